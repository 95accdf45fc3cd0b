import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLiaisonError, type ErrorCode } from '../services/sdk/errors.ts';
import {
  DEFAULT_PROTO_DIR,
  MESSAGE_CATALOGUE,
  decodeBody,
  encodeBody,
  fieldsAt,
  fromJson,
  loadCatalog,
  maxSensitivity,
  project,
  toJson,
  type Catalog,
} from '../services/sdk/schema/index.ts';
import { TIERS } from '../services/sdk/tier.ts';
import { CATALOGUE } from './support/catalogue-list.ts';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error, but the call succeeded');
}

function expectCode(fn: () => unknown, code: ErrorCode, ...texts: string[]) {
  const err = thrown(fn);
  expect(isLiaisonError(err, code), `${String(err)}`).toBe(true);
  for (const t of texts) expect((err as Error).message).toContain(t);
  return err as Error & { details: Record<string, unknown> };
}

const INTEL = {
  summary: 'Fishing vessel intercepted with 61 persons on board.',
  route: { origin: 'XCC', transit: ['XBB'], destination: 'XAA' },
  modusOperandi: ['overcrowded fishing vessel'],
  vessel: { name: 'STELLA MARIS II', imoNumber: 'IMO9123456', flagState: 'XBB', kind: 'fishing vessel' },
  entities: [{ kind: 'ENTITY_KIND_PHONE', value: '+000 555 0101', role: 'coordinator' }],
  observedAt: '2026-11-28T04:30:00.250Z',
  migrantsCount: 61,
  sourceDescription: 'Crew member interviewed after rescue.',
};

describe('schema catalogue: loading and the Liaison rules', () => {
  let catalog: Catalog;
  beforeAll(() => {
    catalog = loadCatalog();
  });

  it('defines every message type of the contracts catalogue, in its family, with paragraphs', () => {
    expect(MESSAGE_CATALOGUE).toEqual(CATALOGUE);
    for (const [family, names] of Object.entries(CATALOGUE)) {
      expect([...(catalog.families.get(family) ?? [])].sort()).toEqual([...names].sort());
      for (const name of names) {
        const info = catalog.get(name);
        expect(info.family).toBe(family);
        expect(info.paragraphs.length).toBeGreaterThan(0);
        expect(info.type.fullName).toBe(`.liaison.v1.${name}`);
      }
    }
    expect(catalog.get('MutualLegalAssistanceRequest').paragraphs).toEqual([13, 9]);
    expect(catalog.get('MutualLegalAssistanceRequest').paragraphRefs).toEqual(['13', '9(c)']);
    expect(catalog.get('DocumentReport').paragraphs).toEqual([16, 12]);
  });

  it('gives every field of every message, nested ones included, a sensitivity tier', () => {
    let checked = 0;
    for (const info of catalog.types.values()) {
      for (const f of info.fields) {
        expect(TIERS, `${info.name}.${f.name}`).toContain(f.sensitivity);
        checked++;
      }
      expect(fieldsAt(info, 'special').length).toBeGreaterThanOrEqual(info.fields.length);
    }
    expect(checked).toBeGreaterThan(150);
    const alert = catalog.get('PersonAlert');
    expect(alert.fields.find((f) => f.name === 'basis')?.sensitivity).toBe('special');
    expect(alert.fields.find((f) => f.name === 'subject')).toMatchObject({ jsonName: 'subject', messageType: 'liaison.v1.Person', sensitivity: 'personal' });
    expect(catalog.get('IntelligenceReport').fields.find((f) => f.name === 'modus_operandi')).toMatchObject({ jsonName: 'modusOperandi', repeated: true });
  });

  it('exposes the envelope types and keeps google.protobuf.Timestamp working', () => {
    const { Envelope, Signed, Header } = catalog.envelopeTypes;
    expect([Envelope.name, Signed.name, Header.name]).toEqual(['Envelope', 'Signed', 'Header']);
    expect(Header.fields.createdAt!.resolvedType?.fullName).toBe('.google.protobuf.Timestamp');
    expect(Object.keys(Envelope.fields)).toEqual(['signed', 'protected', 'signature']);
  });

  it('maps short name, full name and type URL to the same type and back', () => {
    for (const name of catalog.types.keys()) {
      const info = catalog.get(name);
      const url = catalog.typeUrl(name);
      expect(url).toBe(`type.googleapis.com/liaison.v1.${name}`);
      expect(catalog.get(info.fullName)).toBe(info);
      expect(catalog.get(url)).toBe(info);
      expect(catalog.typeUrl(info.fullName)).toBe(url);
    }
  });

  it('refuses unknown type names with ERR_TYPE_UNKNOWN naming the type', () => {
    expectCode(() => catalog.get('NoSuchMessage'), 'ERR_TYPE_UNKNOWN', 'NoSuchMessage');
    expectCode(() => catalog.get('other.v1.DocumentReport'), 'ERR_TYPE_UNKNOWN', 'other.v1.DocumentReport');
    expectCode(() => catalog.get('Header'), 'ERR_TYPE_UNKNOWN', 'Header');
    expectCode(() => catalog.typeUrl('Vessel'), 'ERR_TYPE_UNKNOWN', 'Vessel');
  });

  it('builds a fresh catalogue on every load (no shared module state)', () => {
    const again = loadCatalog();
    expect(again === catalog).toBe(false);
    expect(again.get('DocumentReport').type === catalog.get('DocumentReport').type).toBe(false);
  });

  it('knows the highest sensitivity of each type, nested fields included', () => {
    expect(maxSensitivity(catalog.get('TrainingOffer'))).toBe('public');
    expect(maxSensitivity(catalog.get('IntelligenceReport'))).toBe('special');
    expect(maxSensitivity(catalog.get('DocumentReport'))).toBe('personal');
  });
});

describe('schema catalogue: a broken schema is refused with ERR_SCHEMA_LOAD naming the culprit', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  function brokenCopy(file: string, edit: (text: string) => string): string {
    const dir = mkdtempSync(join(tmpdir(), 'liaison-schema-'));
    dirs.push(dir);
    cpSync(DEFAULT_PROTO_DIR, dir, { recursive: true });
    const path = join(dir, 'liaison', 'v1', file);
    const before = readFileSync(path, 'utf8');
    const after = edit(before);
    expect(after).not.toBe(before);
    writeFileSync(path, after);
    return dir;
  }

  it('a field without a sensitivity names the message and the field', () => {
    const dir = brokenCopy('documents.proto', (t) =>
      t.replace('string place = 9 [(liaison.v1.sensitivity) = SENSITIVITY_OPERATIONAL];', 'string place = 9;'),
    );
    const err = expectCode(() => loadCatalog(dir), 'ERR_SCHEMA_LOAD', 'liaison.v1.DocumentReport.place', 'sensitivity');
    expect(err.details).toMatchObject({ message: 'DocumentReport', field: 'place' });
  });

  it('a nested value type field without a sensitivity is refused too', () => {
    const dir = brokenCopy('common.proto', (t) => t.replace('string call_sign = 5 [(liaison.v1.sensitivity) = SENSITIVITY_OPERATIONAL];', 'string call_sign = 5;'));
    expectCode(() => loadCatalog(dir), 'ERR_SCHEMA_LOAD', 'liaison.v1.Vessel.call_sign');
  });

  it('a family message without paragraphs, or with an unknown family, is refused', () => {
    const noParagraphs = brokenCopy('analysis.proto', (t) => t.replace('option (liaison.v1.paragraphs) = "17";\n\n  // A figure', '\n  // A figure'));
    expectCode(() => loadCatalog(noParagraphs), 'ERR_SCHEMA_LOAD', 'StrategicReport', 'paragraphs');
    const badFamily = brokenCopy('training.proto', (t) => t.replace('option (liaison.v1.family) = "training";', 'option (liaison.v1.family) = "Training";'));
    expectCode(() => loadCatalog(badFamily), 'ERR_SCHEMA_LOAD', 'unknown family "Training"');
  });

  it('a syntax error is ERR_SCHEMA_LOAD, not a crash', () => {
    const dir = brokenCopy('persons.proto', (t) => t.replace('message PersonAlert {', 'message PersonAlert {{'));
    expectCode(() => loadCatalog(dir), 'ERR_SCHEMA_LOAD');
  });
});

describe('schema runtime: JSON bodies, encoding and projection', () => {
  let catalog: Catalog;
  beforeAll(() => {
    catalog = loadCatalog();
  });

  it('fromJson names the field of an unknown field, a wrong type and a bad enum value', () => {
    const doc = catalog.get('DocumentReport');
    let err = expectCode(() => fromJson(doc, { documentNumber: 'X1', secretField: 1 }), 'ERR_BODY_INVALID', 'DocumentReport.secretField', 'unknown field');
    expect(err.details.field).toBe('secretField');
    err = expectCode(() => fromJson(doc, { issuingCountry: 42 }), 'ERR_BODY_INVALID', 'DocumentReport.issuingCountry: expected string');
    expect(err.details.field).toBe('issuingCountry');
    err = expectCode(() => fromJson(doc, { status: 'MISLAID' }), 'ERR_BODY_INVALID', 'DocumentReport.status: expected one of', 'DOCUMENT_STATUS_STOLEN');
    expect(err.details.field).toBe('status');
    err = expectCode(() => fromJson(catalog.get('IntelligenceReport'), { vessel: { name: 'X', imoNumber: 9123456 } }), 'ERR_BODY_INVALID', 'IntelligenceReport.vessel.imoNumber');
    expect(err.details.field).toBe('vessel.imoNumber');
    expectCode(() => fromJson(catalog.get('IntelligenceReport'), { entities: [{ kind: 'ENTITY_KIND_NOPE' }] }), 'ERR_BODY_INVALID', 'IntelligenceReport.entities[0].kind');
    expectCode(() => fromJson(catalog.get('IntelligenceReport'), { observedAt: 'yesterday' }), 'ERR_BODY_INVALID', 'IntelligenceReport.observedAt', 'ISO-8601');
    expectCode(() => fromJson(catalog.get('IntelligenceReport'), { migrantsCount: -1 }), 'ERR_BODY_INVALID', 'IntelligenceReport.migrantsCount');
    expectCode(() => fromJson(doc, [1, 2]), 'ERR_BODY_INVALID', 'DocumentReport: expected object');
  });

  it('fromJson accepts proto names as well as camelCase, and toJson gives camelCase, enum names and ISO timestamps', () => {
    const doc = catalog.get('DocumentReport');
    const msg = fromJson(doc, { document_number: 'XA1', issuing_country: 'XAA', status: 'DOCUMENT_STATUS_LOST', reportedAt: '2026-11-28T12:00:00Z', remarks: '' });
    expect(toJson(doc, msg)).toEqual({ documentNumber: 'XA1', issuingCountry: 'XAA', status: 'DOCUMENT_STATUS_LOST', reportedAt: '2026-11-28T12:00:00.000Z' });
  });

  it('encode → decode round-trips a rich body, nested messages, repeated fields, longs and timestamps included', () => {
    const intel = catalog.get('IntelligenceReport');
    const back = toJson(intel, decodeBody(intel, encodeBody(intel, fromJson(intel, INTEL))));
    expect(back).toEqual({ ...INTEL });
    const mla = catalog.get('MutualLegalAssistanceRequest');
    const body = {
      legalBasis: 'UNTOC art. 18',
      measures: ['MEASURE_BANK_RECORDS', 'MEASURE_FREEZING'],
      assets: [{ kind: 'bank account', identifier: 'XB00 1234', estimatedValue: '9007199254740993', currency: 'EUR' }],
      urgency: 'URGENCY_URGENT',
      deadline: '2026-12-01T00:00:00.123456789Z',
      partialExecutionAccepted: true,
    };
    expect(toJson(mla, decodeBody(mla, encodeBody(mla, body)))).toEqual(body);
  });

  it('projection removes fields above the tier, nested ones included, and keeps the rest', () => {
    const intel = catalog.get('IntelligenceReport');
    const msg = fromJson(intel, INTEL);
    const at = (tier: (typeof TIERS)[number]) => toJson(intel, decodeBody(intel, encodeBody(intel, project(intel, msg, tier))));
    expect(at('public')).toEqual({ migrantsCount: 61 });
    const operational = at('operational');
    expect(operational).toEqual({ ...INTEL, entities: undefined, sourceDescription: undefined, vessel: INTEL.vessel });
    expect('entities' in operational || 'sourceDescription' in operational).toBe(false);
    const personal = at('personal');
    expect(personal.entities).toEqual(INTEL.entities);
    expect(personal.sourceDescription).toBeUndefined();
    expect(at('special')).toEqual(INTEL);
    expect(project(intel, msg, 'special')).toBe(msg);
    expect(toJson(intel, msg)).toEqual(INTEL);
  });

  it('a nested field is hidden when its parent field is above the tier, even if its own tier is lower', () => {
    const alert = catalog.get('PersonAlert');
    const msg = fromJson(alert, {
      alertReference: 'XA-PA-1',
      subject: { name: { fullName: 'Amir Haddad' }, identifiers: [{ kind: 'IDENTIFIER_KIND_PASSPORT', value: 'XA4417702', issuingCountry: 'XAA' }] },
      basis: 'ALERT_BASIS_SUSPECTED',
      offences: ['PROTOCOL_OFFENCE_SMUGGLING'],
    });
    expect(toJson(alert, project(alert, msg, 'operational'))).toEqual({ alertReference: 'XA-PA-1' });
    expect(toJson(alert, project(alert, msg, 'personal'))).toEqual({
      alertReference: 'XA-PA-1',
      subject: { name: { fullName: 'Amir Haddad' }, identifiers: [{ kind: 'IDENTIFIER_KIND_PASSPORT', value: 'XA4417702', issuingCountry: 'XAA' }] },
    });
    expect(fieldsAt(alert, 'operational')).not.toContain('subject.identifiers.kind');
    expect(fieldsAt(alert, 'personal')).toContain('subject.identifiers.kind');
    expect(fieldsAt(alert, 'personal')).not.toContain('basis');
  });

  it('fieldsAt lists the visible paths, top level without dots', () => {
    const doc = catalog.get('DocumentReport');
    expect(fieldsAt(doc, 'operational')).toContain('documentNumber');
    expect(fieldsAt(doc, 'operational')).not.toContain('holderName');
    expect(fieldsAt(doc, 'personal')).toContain('holderName');
    expect(fieldsAt(catalog.get('IntelligenceReport'), 'public')).toEqual(['migrantsCount', 'childrenCount']);
    expect(fieldsAt(catalog.get('IntelligenceReport'), 'operational')).toContain('vessel.imoNumber');
  });

  it('decodeBody of garbage bytes throws ERR_DECODE', () => {
    const doc = catalog.get('DocumentReport');
    expectCode(() => decodeBody(doc, Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])), 'ERR_DECODE', 'liaison.v1.DocumentReport');
    expectCode(() => decodeBody(doc, Uint8Array.from([0xff, 0xff, 0xff])), 'ERR_DECODE');
  });
});
