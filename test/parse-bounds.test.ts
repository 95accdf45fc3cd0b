/**
 * Issue 12, finding 5: input that crashed or bloated a receiver before the signature check. Every entry
 * point answers garbage with a typed LiaisonError, in bounded memory and linear time.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, type RpcHost } from '../services/sdk/client/rpc.ts';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';
import { parsePolicy } from '../services/sdk/policy/index.ts';
import { parseScenario } from '../services/simulator/scenario.ts';
import { columnMap, CsvParser, parseCsv, reportBody } from '../services/registry/import/csv.ts';
import { sealMessage } from '../services/sdk/envelope/seal.ts';
import { silentLogger } from '../services/sdk/logging.ts';
import { openMessage } from '../services/sdk/envelope/open.ts';
import { parseProtectedHeader, protectedHeaderCacheStats } from '../services/sdk/envelope/jws.ts';
import { isLiaisonError, type ErrorCode } from '../services/sdk/errors.ts';
import { uuidv7 } from '../services/sdk/ids.ts';
import { encodeBody, fromJson, toJson } from '../services/sdk/schema/index.ts';
import { startNatsServer, type TestNatsServer } from './fixture/nats-server.ts';
import { createLab, LAB_NOW, LAB_REPORT, rawHeader, type Lab } from './support/parse-lab.ts';

function codeOf(fn: () => unknown): ErrorCode | string {
  try {
    fn();
  } catch (err) {
    return isLiaisonError(err) ? err.code : `untyped ${(err as Error).constructor?.name}: ${(err as Error).message}`;
  }
  return 'accepted';
}

let lab: Lab;
beforeAll(async () => {
  lab = await createLab();
});

const SUBJECT = 'liaison.v1.operational.documents.DocumentReport.xa-police.all';
const open = (data: Uint8Array) => openMessage(lab.openCtx, { subject: SUBJECT, data });
const PROFILE = (kid: string) => JSON.stringify({ alg: 'EdDSA', b64: false, crit: ['b64'], kid, typ: 'liaison-envelope' });

describe('JWS protected header: typed refusal, bounded fields, bounded cache', () => {
  it('a protected header of JSON null, a list, a string or a number is ERR_PROTECTED_HEADER_INVALID (was a TypeError)', () => {
    const body = encodeBody(lab.catalog.get('DocumentReport'), LAB_REPORT);
    const h = rawHeader(lab.header('DocumentReport'));
    for (const json of ['null', '[]', '"x"', '1', 'true', '{"alg":null}']) {
      expect(codeOf(() => open(lab.forge(h, body, json))), json).toBe('ERR_PROTECTED_HEADER_INVALID');
      expect(codeOf(() => parseProtectedHeader(Buffer.from(json))), json).toBe('ERR_PROTECTED_HEADER_INVALID');
    }
  });

  it('the valid profile still opens (positive control)', () => {
    const copy = lab.seal('DocumentReport', LAB_REPORT);
    expect(open(copy.data).body.documentNumber).toBe('XA1234567');
    const body = encodeBody(lab.catalog.get('DocumentReport'), LAB_REPORT);
    expect(codeOf(() => open(lab.forge(rawHeader(lab.header('DocumentReport')), body, PROFILE(lab.kid))))).toBe('accepted');
  });

  it('an oversized kid or protected header is refused before it is parsed or cached', () => {
    const body = encodeBody(lab.catalog.get('DocumentReport'), LAB_REPORT);
    const h = rawHeader(lab.header('DocumentReport'));
    expect(codeOf(() => open(lab.forge(h, body, PROFILE('k'.repeat(129)))))).toBe('ERR_PROTECTED_HEADER_INVALID');
    expect(codeOf(() => open(lab.forge(h, body, PROFILE('bad kid!'))))).toBe('ERR_PROTECTED_HEADER_INVALID');
    // A 128-character kid is allowed by the profile (it is just not a key of the sender).
    expect(codeOf(() => open(lab.forge(h, body, PROFILE('k'.repeat(128)))))).toBe('ERR_KEY_UNKNOWN');
    const padded = PROFILE(lab.kid).replace('{', `{${' '.repeat(600)}`);
    expect(codeOf(() => parseProtectedHeader(Buffer.from(padded)))).toBe('ERR_PROTECTED_HEADER_INVALID');
  });

  it('200 unsigned envelopes with distinct 900 kB kids leave the header cache bounded (was ~600 MB)', () => {
    const before = protectedHeaderCacheStats();
    const body = encodeBody(lab.catalog.get('DocumentReport'), LAB_REPORT);
    const signed = lab.codec.encodeSigned(lab.header('DocumentReport'), body);
    for (let i = 0; i < 200; i++) {
      const kid = `${i}`.padStart(6, '0') + 'A'.repeat(900_000);
      const data = lab.codec.encodeEnvelope({ signed, protected: Buffer.from(PROFILE(kid)), signature: new Uint8Array(64) });
      expect(codeOf(() => open(data))).toBe('ERR_PROTECTED_HEADER_INVALID');
    }
    const after = protectedHeaderCacheStats();
    expect(after.bytes).toBeLessThanOrEqual(after.maxBytes);
    expect(after.bytes - before.bytes).toBeLessThan(64 * 1024);
    expect(after.maxBytes).toBeLessThanOrEqual(2 * 1024 * 1024);
    // Many distinct valid-looking small headers: the entry count stays at its bound.
    for (let i = 0; i < 3_000; i++) parseProtectedHeader(Buffer.from(PROFILE(`kid${i}`)));
    const full = protectedHeaderCacheStats();
    expect(full.entries).toBeLessThanOrEqual(full.maxEntries);
    expect(full.bytes).toBeLessThanOrEqual(full.maxBytes);
  });

  it('only headers that verified under a directory key are cached: a flood of unverified ones neither grows nor churns it', () => {
    const body = encodeBody(lab.catalog.get('DocumentReport'), LAB_REPORT);
    const signed = lab.codec.encodeSigned(lab.header('DocumentReport'), body);
    const copy = lab.seal('DocumentReport', LAB_REPORT);
    open(copy.data);
    const before = protectedHeaderCacheStats().entries;
    for (let i = 0; i < 2_000; i++) {
      // Valid profile, unknown kid (refused at the key lookup) or the real kid with a bad signature.
      const kid = i % 2 ? `unknown${i}` : lab.kid;
      const prot = Buffer.from(PROFILE(kid).replace('{', `{${' '.repeat(i % 300)}`));
      const data = lab.codec.encodeEnvelope({ signed, protected: prot, signature: new Uint8Array(64) });
      expect(codeOf(() => open(data))).toMatch(/^ERR_(KEY_UNKNOWN|SIGNATURE_INVALID)$/);
    }
    expect(protectedHeaderCacheStats().entries).toBe(before);
    // The genuine header is still cached (the flood did not evict it) and still opens.
    expect(protectedHeaderCacheStats().entries).toBeGreaterThan(0);
    expect(open(copy.data).body.documentNumber).toBe('XA1234567');
  });
});

describe('dates, enums and ranges: the same validation on receive as on send', () => {
  const info = () => lab.catalog.get('DocumentReport');
  const bodyWith = (over: Record<string, unknown>) => info().type.encode(info().type.fromObject({ ...info().type.toObject(fromJson(info(), LAB_REPORT)), ...over })).finish();

  it('a body Timestamp beyond ±8.64e12 s is ERR_BODY_INVALID on receive (was a RangeError in toJson)', () => {
    const h = rawHeader(lab.header('DocumentReport'));
    for (const seconds of [9e12, -9e12, 1e15]) {
      expect(codeOf(() => open(lab.forge(h, bodyWith({ reportedAt: { seconds, nanos: 0 } })))), String(seconds)).toBe('ERR_BODY_INVALID');
    }
    expect(codeOf(() => toJson(info(), info().type.decode(bodyWith({ reportedAt: { seconds: 9e12, nanos: 0 } }))))).toBe('ERR_BODY_INVALID');
  });

  it('a body Timestamp after 9999 or before year 1, or with nanos out of range, is refused on receive as on send', () => {
    const h = rawHeader(lab.header('DocumentReport'));
    const y10000 = Date.UTC(10000, 0, 1) / 1000;
    expect(codeOf(() => open(lab.forge(h, bodyWith({ reportedAt: { seconds: y10000, nanos: 0 } }))))).toBe('ERR_BODY_INVALID');
    expect(codeOf(() => open(lab.forge(h, bodyWith({ reportedAt: { seconds: -62135596801, nanos: 0 } }))))).toBe('ERR_BODY_INVALID');
    expect(codeOf(() => open(lab.forge(h, bodyWith({ reportedAt: { seconds: 0, nanos: 1_000_000_000 } }))))).toBe('ERR_BODY_INVALID');
    expect(codeOf(() => open(lab.forge(h, bodyWith({ reportedAt: { seconds: 0, nanos: -1 } }))))).toBe('ERR_BODY_INVALID');
    // The send side refuses the same instants, however they are given.
    expect(codeOf(() => fromJson(info(), { ...LAB_REPORT, reportedAt: new Date(Date.UTC(10000, 0, 1)) }))).toBe('ERR_BODY_INVALID');
    expect(codeOf(() => fromJson(info(), { ...LAB_REPORT, reportedAt: '0000-12-31T23:59:59Z' }))).toBe('ERR_BODY_INVALID');
    // The edges themselves are fine both ways.
    const edge = { seconds: Date.UTC(9999, 11, 31, 23, 59, 59) / 1000, nanos: 999_999_999 };
    expect(open(lab.forge(h, bodyWith({ reportedAt: edge }))).body.reportedAt).toBe('9999-12-31T23:59:59.999999999Z');
    expect(codeOf(() => fromJson(info(), { ...LAB_REPORT, reportedAt: '9999-12-31T23:59:59.999999999Z' }))).toBe('accepted');
    expect(codeOf(() => fromJson(info(), { ...LAB_REPORT, reportedAt: '0001-01-01T00:00:00Z' }))).toBe('accepted');
  });

  it('an unknown enum number in a body is ERR_BODY_INVALID on receive, as fromJson refuses it on send', () => {
    const h = rawHeader(lab.header('DocumentReport'));
    expect(codeOf(() => fromJson(info(), { ...LAB_REPORT, documentType: 99 }))).toBe('ERR_BODY_INVALID');
    expect(codeOf(() => open(lab.forge(h, bodyWith({ documentType: 99 }))))).toBe('ERR_BODY_INVALID');
    expect(codeOf(() => open(lab.forge(h, bodyWith({ status: -5 }))))).toBe('ERR_BODY_INVALID');
  });

  it('an out-of-range expires_at or created_at is ERR_HEADER_INVALID (was an Invalid Date that never expires)', () => {
    const body = encodeBody(info(), LAB_REPORT);
    const h = lab.header('DocumentReport');
    for (const seconds of [9e12, 1e15, Date.UTC(10000, 0, 1) / 1000, -62135596801]) {
      expect(codeOf(() => open(lab.forge(rawHeader(h, { expiresAt: { seconds, nanos: 0 } }), body))), `expires ${seconds}`).toBe('ERR_HEADER_INVALID');
      expect(codeOf(() => open(lab.forge(rawHeader(h, { createdAt: { seconds, nanos: 0 } }), body))), `created ${seconds}`).toBe('ERR_HEADER_INVALID');
    }
    expect(codeOf(() => open(lab.forge(rawHeader(h, { expiresAt: { seconds: LAB_NOW / 1000, nanos: 2e9 } }), body)))).toBe('ERR_HEADER_INVALID');
    // Positive control: a valid future expiry opens; a past one is ERR_MESSAGE_EXPIRED.
    expect(codeOf(() => open(lab.forge(rawHeader(h, { expiresAt: { seconds: LAB_NOW / 1000 + 60, nanos: 0 } }), body)))).toBe('accepted');
    expect(codeOf(() => open(lab.forge(rawHeader(h, { expiresAt: { seconds: LAB_NOW / 1000 - 60, nanos: 0 } }), body)))).toBe('ERR_MESSAGE_EXPIRED');
  });

  it('an unknown enum number in the header (reliability) is refused, not silently dropped', () => {
    const body = encodeBody(info(), LAB_REPORT);
    const h = lab.header('DocumentReport');
    expect(codeOf(() => open(lab.forge(rawHeader(h, { sourceReliability: 42 }), body)))).toBe('ERR_HEADER_INVALID');
    expect(codeOf(() => open(lab.forge(rawHeader(h, { informationReliability: 42 }), body)))).toBe('ERR_HEADER_INVALID');
    expect(codeOf(() => open(lab.forge(rawHeader(h, { sourceReliability: 'SOURCE_RELIABILITY_B' }), body)))).toBe('accepted');
  });

  it('the sender refuses the same header values the receiver refuses (one validation both ways)', () => {
    const body = encodeBody(info(), LAB_REPORT);
    expect(codeOf(() => lab.codec.encodeSigned(lab.header('DocumentReport', { expiresAt: new Date(Number.NaN) }), body))).toBe('ERR_HEADER_INVALID');
    expect(codeOf(() => lab.codec.encodeSigned(lab.header('DocumentReport', { expiresAt: new Date(Date.UTC(10000, 0, 1)) }), body))).toBe('ERR_HEADER_INVALID');
    expect(codeOf(() => lab.seal('DocumentReport', LAB_REPORT, { expiresAt: new Date(8.64e15) }))).toBe('ERR_HEADER_INVALID');
    expect(codeOf(() => lab.codec.encodeSigned(lab.header('DocumentReport', { sender: 'x'.repeat(10_000) }), body))).toBe('ERR_HEADER_INVALID');
    expect(codeOf(() => open(lab.forge(rawHeader(lab.header('DocumentReport', { caseRef: 'c'.repeat(100_000) })), body)))).toBe('ERR_HEADER_INVALID');
    expect(codeOf(() => lab.codec.encodeSigned(lab.header('DocumentReport', { id: uuidv7(LAB_NOW) }), body))).toBe('accepted');
  });
});

describe('request(): a malformed reply is a typed error for the caller (real nats-server)', () => {
  let server: TestNatsServer;
  let nc: NatsConnection;
  beforeAll(async () => {
    server = await startNatsServer({ name: 'parse-bounds', runtime: 'local', config: (ctx) => `listen: "${ctx.host}:${ctx.port}"\n` });
    nc = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  const host = (): RpcHost => ({
    id: 'xa-police',
    nc,
    catalog: lab.catalog,
    policy: () => lab.policy,
    openContext: () => ({ ...lab.openCtx, self: 'xa-police' }),
    seal: (type, body, opts) => sealMessage(lab.sealCtx, type, body, opts),
    logger: silentLogger(),
  });

  it('a reply with a protected header of null, or garbage bytes, rejects with a LiaisonError (was a raw TypeError)', async () => {
    const replies: Uint8Array[] = [];
    const body = encodeBody(lab.catalog.get('DocumentReport'), LAB_REPORT);
    const h = rawHeader(lab.header('DocumentReport', { sender: 'xb-ngo', recipient: 'xa-police' }));
    replies.push(lab.forge(h, body, 'null'), Uint8Array.of(0x0a, 0xff, 0xff), lab.forge(h, body, '[1]'));
    const sub = nc.subscribe('liaison.v1.svc.>', {
      callback: (_err, m) => {
        m.respond(replies.shift() ?? new Uint8Array());
      },
    });
    try {
      for (const want of ['ERR_PROTECTED_HEADER_INVALID', 'ERR_DECODE', 'ERR_PROTECTED_HEADER_INVALID'] as const) {
        const err = await request(host(), 'DocumentReport', LAB_REPORT, { to: 'xb-ngo', timeoutMs: 3_000 }).then(
          () => new Error('accepted'),
          (e: unknown) => e,
        );
        expect(isLiaisonError(err) ? err.code : String(err)).toBe(want);
      }
    } finally {
      sub.unsubscribe();
    }
  });
});

describe('scenario and policy YAML: cycles and unknown keys refused with their location', () => {
  const SCENARIO = (timeline: string, top = '') => `version: 1
name: s
policy: p.yaml
${top}timeline:
${timeline}`;
  const refusal = (text: string) => {
    try {
      parseScenario(text, 'bad.yaml');
    } catch (err) {
      if (isLiaisonError(err)) return err;
      return new Error(`untyped ${(err as Error).constructor.name}: ${(err as Error).message}`);
    }
    return new Error('accepted');
  };

  it('an alias cycle (name: &a [*a]) is ERR_CONFIG_INVALID at the alias, not a TypeError', () => {
    const err = refusal(`version: 1\nname: &a [*a]\npolicy: p.yaml\ntimeline:\n  - note: hi\n`);
    expect(isLiaisonError(err) && err.code, err.message).toBe('ERR_CONFIG_INVALID');
    expect(err.message).toContain('bad.yaml:2:');
    expect(err.message).toContain('cycle');
    const deep = refusal(SCENARIO(`  - send: { from: a, type: T }\n    body: &b { x: { y: *b } }\n`));
    expect(isLiaisonError(deep) && deep.code, deep.message).toBe('ERR_CONFIG_INVALID');
    expect(deep.message).toMatch(/bad\.yaml:6:\d+ .*cycle/);
  });

  it('a misspelt key is refused at its line and column, with a "did you mean"', () => {
    const err = refusal(SCENARIO(`  - send: { from: a, type: T, handlng: H1 }\n`));
    expect(isLiaisonError(err) && err.code, err.message).toBe('ERR_CONFIG_INVALID');
    expect(err.message).toContain('bad.yaml:5:31 timeline[0].send.handlng: unknown key "handlng"');
    expect(err.message).toContain('did you mean "handling"?');
    expect(isLiaisonError(err) && [err.details.line, err.details.column]).toEqual([5, 31]);
    const top = refusal(SCENARIO(`  - note: hi\n`, 'clock: { sped: 10 }\n'));
    expect(top.message).toContain('bad.yaml:4:10 clock.sped: unknown key "sped"');
    const expectKey = refusal(SCENARIO(`  - send: { from: a, type: T }\n    expect: { caseStat: open }\n`));
    expect(expectKey.message).toContain('timeline[0].expect.caseStat: unknown key');
    expect(expectKey.message).toContain('did you mean "caseState"?');
    const eventKey = refusal(SCENARIO(`  - revoke: { agency: a }\n    bdy: { x: 1 }\n`));
    expect(eventKey.message).toContain('bad.yaml:6:5 timeline[0].bdy: unknown key');
  });

  it('value problems are located too; the shipped scenario (with legitimate aliases) still parses', async () => {
    const err = refusal(SCENARIO(`  - send: { from: a, type: T, tlp: PURPLE }\n`));
    expect(err.message).toContain('bad.yaml:5:36 timeline[0].send.tlp: expected one of');
    const file = join(import.meta.dirname, '../deploy/scenarios/interception.yaml');
    const s = parseScenario(await readFile(file, 'utf8'), file);
    expect(s.events.length).toBeGreaterThan(20);
  });

  it('the policy loader refuses an alias cycle with ERR_POLICY_INVALID, located', () => {
    for (const text of ['version: 1\nname: &a [*a]\nroles: {}\nagencies: {}\n', 'version: 1\nname: p\nroles: &r { x: { send: *r } }\nagencies: {}\n']) {
      let got: unknown = 'accepted';
      try {
        parsePolicy(text, { file: 'p.yaml', catalog: typeCatalogOf(lab.catalog) });
      } catch (e) {
        got = e;
      }
      expect(isLiaisonError(got) ? got.code : String(got)).toBe('ERR_POLICY_INVALID');
      expect((got as Error).message).toMatch(/^p\.yaml:\d+:\d+/);
    }
  });
});

describe('CSV import: linear time, real dates, no control characters', () => {
  /**
   * How much longer parsing 8x the bytes takes: the best of five interleaved runs of each size (a loaded machine
   * only ever adds time, and interleaving exposes both sizes to the same load). Linear: ~8; quadratic: ~64.
   */
  const growth = (small: string, large: string, parse: (text: string) => unknown) => {
    const time = (text: string) => {
      const t0 = performance.now();
      parse(text);
      return performance.now() - t0;
    };
    parse(small);
    let [s, l] = [Infinity, Infinity];
    for (let round = 0; round < 5; round++) {
      s = Math.min(s, time(small));
      l = Math.min(l, time(large));
    }
    return l / s;
  };
  /** Parse as the importer reads a file: 64 KiB chunks. */
  const streamed = (text: string) => {
    const p = new CsvParser();
    let n = 0;
    for (let i = 0; i < text.length; i += 65_536) n += p.push(text.slice(i, i + 65_536)).length;
    return n + p.end().length;
  };
  const escaped = (chars: number) => `a,b\n1,"${'x""'.repeat(Math.floor(chars / 3))}"\n2,3\n`;
  const unbalanced = (chars: number) => `a,b\n1,"${'xyz,\n'.repeat(chars / 5)}`;

  it('a multi-MB field of escaped quotes parses in linear time (8x the bytes < 24x the time; was quadratic: 2.4 MB took 33 s)', () => {
    const [small, large] = [escaped(1_000_000), escaped(8_000_000)];
    expect(parseCsv(small)[1]!.fields[1]!.length).toBe(Math.floor(1_000_000 / 3) * 2);
    expect(streamed(large)).toBe(3);
    expect(growth(small, large, parseCsv)).toBeLessThan(24);
    expect(growth(small, large, streamed)).toBeLessThan(24);
  });

  it('after one unbalanced quote the rest of a large file parses in linear time (8x the bytes < 24x the time; was quadratic: 32 MB took 25 s)', () => {
    const [small, large] = [unbalanced(2_000_000), unbalanced(16_000_000)];
    expect(parseCsv(small)[1]!.error).toBe('unterminated quoted field');
    expect(growth(small, large, streamed)).toBeLessThan(24);
  });

  const cols = () => columnMap({ line: 1, fields: ['document_number', 'issuing_country', 'document_type', 'status', 'issue_date', 'expiry_date', 'holder_name', 'holder_birth_date', 'remarks'] });
  const row = (over: Record<number, string>) => {
    const fields = ['P1', 'XAA', 'passport', 'stolen', '2020-02-29', '2030-12-31', 'Amir Haddad', '1990-01-01', 'seen at the port'];
    for (const [i, v] of Object.entries(over)) fields[Number(i)] = v;
    try {
      return reportBody({ line: 7, fields }, cols());
    } catch (err) {
      return err;
    }
  };

  it('impossible dates are refused with row and column (2024-13-01, 2023-02-29, 2030-04-31)', () => {
    expect(row({})).toMatchObject({ issueDate: '2020-02-29', expiryDate: '2030-12-31' });
    for (const [i, v] of [[4, '2024-13-01'], [5, '2023-02-29'], [5, '2030-04-31'], [4, '2024-00-10'], [5, '0000-01-01']] as const) {
      const err = row({ [i]: v });
      expect(isLiaisonError(err) && err.code, `${v}`).toBe('ERR_BODY_INVALID');
      expect((err as Error).message).toContain(`line 7, column ${i + 1}`);
      expect(isLiaisonError(err) && err.details).toMatchObject({ line: 7, column: i + 1 });
    }
    const birth = row({ 7: '2023-02-29' });
    expect(isLiaisonError(birth) && birth.details).toMatchObject({ line: 7, column: 8 });
  });

  it('control characters are refused with row and column; line breaks and tabs stay allowed in remarks', () => {
    for (const [i, v] of [[0, 'P\u00001'], [6, 'Amir\u001bHaddad'], [6, 'Amir\u202eHaddad'], [8, 'bell\u0007'], [8, 'del\u007f'], [1, 'XA\u0085A'], [6, 'two\nlines']] as const) {
      const err = row({ [i]: v });
      expect(isLiaisonError(err) && err.code, JSON.stringify(v)).toBe('ERR_BODY_INVALID');
      expect((err as Error).message, JSON.stringify(v)).toContain(`line 7, column ${i + 1}`);
      expect((err as Error).message).toContain('control character');
    }
    expect(row({ 8: 'first line\r\nsecond\tline' })).toMatchObject({ remarks: 'first line\r\nsecond\tline' });
  });
});
