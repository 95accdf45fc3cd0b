/**
 * Seeded fuzz generators over every parsing entry point (issue 12, finding 5), shared by test/fuzz.test.ts
 * and the scale run test/bench/fuzz.ts. Each target turns a random source into one case and reports its
 * outcome; {@link runFuzz} tallies them. The invariants: every refusal is a LiaisonError with a known code
 * (0 untyped errors), and a mutated signed envelope never opens unless its signed bytes and signature came
 * through unchanged (0 accepted mutations). Re-signed mutations (signed for real with the sender's key)
 * may open; they only have to fail typed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { typeCatalogOf } from '../../services/sdk/client/type-catalog.ts';
import { openEnvelope, type Incoming, type ReceivedMessage, type Route } from '../../services/sdk/envelope/open.ts';
import { signDetached, signingInput } from '../../services/sdk/envelope/jws.ts';
import { ERROR_CODES, isLiaisonError } from '../../services/sdk/errors.ts';
import { parsePolicy } from '../../services/sdk/policy/index.ts';
import { fromJson } from '../../services/sdk/schema/index.ts';
import { timestampFromDate } from '../../services/sdk/schema/timestamp.ts';
import { columnMap, CsvParser, parseCsv, reportBody, type CsvRecord } from '../../services/registry/import/csv.ts';
import { parseScenario } from '../../services/simulator/scenario.ts';
import { sign as edSign } from 'node:crypto';
import { LAB_POLICY, LAB_REPORT, type Lab } from './parse-lab.ts';
import type { Rng } from './prng.ts';

/** What one case came to. */
export type Outcome =
  | { kind: 'ok' }
  | { kind: 'refused'; code: string }
  | { kind: 'untyped'; error: string }
  | { kind: 'accepted'; what: string }
  | { kind: 'inconsistent'; what: string };

/** One entry point under fuzz. */
export interface FuzzTarget {
  name: string;
  /** Relative share of the cases. */
  weight: number;
  run(rng: Rng): Outcome;
}

/** Tallies of a run. */
export interface FuzzStats {
  seed: number;
  cases: number;
  untyped: number;
  accepted: number;
  inconsistent: number;
  ms: number;
  byTarget: Record<string, { cases: number; ok: number; refused: number; untyped: number; accepted: number; inconsistent: number; ms: number }>;
  /** The first failures, with their case number (re-run with the same seed to reproduce). */
  failures: string[];
}

const ROOT = join(import.meta.dirname, '../..');

/** The outcome of a thrown value: refused when it is a LiaisonError with a registered code, untyped otherwise. */
export function classify(err: unknown): Outcome {
  return refusal(err);
}

function refusal(err: unknown): Outcome {
  if (isLiaisonError(err) && Object.hasOwn(ERROR_CODES, err.code)) return { kind: 'refused', code: err.code };
  const e = err as Error;
  return { kind: 'untyped', error: `${e?.constructor?.name ?? typeof err}: ${String(e?.message ?? err).slice(0, 200)}` };
}

function attempt(fn: () => void): Outcome {
  try {
    fn();
    return { kind: 'ok' };
  } catch (err) {
    return refusal(err);
  }
}

const equal = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

// ---------------------------------------------------------------------------------------------
// Envelopes: the receive pipeline (message route) and reply parsing (reply route).
// ---------------------------------------------------------------------------------------------

interface Base {
  incoming: Incoming;
  route: Route;
  headers: Record<string, string>;
}

/** A mutated copy; `resigned` when it was signed for real after the change (it may then open). */
interface Mutant {
  incoming: Incoming;
  resigned: boolean;
  what: string;
}

const HUGE = 'x'.repeat(200_000);
const STRINGS = ['', ' ', 'all', 'xb-ngo', 'xa-police', 'liaison.v1.DocumentReport', 'liaison.v1.Nope', '\u0000', '\u202e', '🙂'.repeat(40), 'a'.repeat(300), HUGE, '../../etc', '0192aaaa-0000-7000-8000-000000000001'];
const SECONDS = [0, -1, 1, 2 ** 31, -(2 ** 31), 9e12, -9e12, 1e15, 253_402_300_799, 253_402_300_800, -62_135_596_800, -62_135_596_801, 1_795_000_000];
const NANOS = [0, -1, 999_999_999, 1_000_000_000, 2 ** 31 - 1, -(2 ** 31)];
const ENUMS = [0, 1, 2, 3, 4, 5, 7, 99, -1, 2 ** 31 - 1];

function randomJsonValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(depth > 2 ? 5 : 7)) {
    case 0:
      return null;
    case 1:
      return rng.pick([true, false, 0, -1, 1e308, 0.5]);
    case 2:
      return rng.pick(STRINGS.filter((s) => s.length < 1000));
    case 3:
      return rng.pick(['EdDSA', 'none', 'HS256', 'b64', 'liaison-envelope']);
    case 4:
      return 'k'.repeat(rng.pick([1, 43, 128, 129, 600, 100_000]));
    case 5:
      return Array.from({ length: rng.int(3) }, () => randomJsonValue(rng, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: rng.int(3) }, () => [rng.pick(['alg', 'b64', 'crit', 'kid', 'typ', 'x']), randomJsonValue(rng, depth + 1)]));
  }
}

/** A protected header variant: the profile with one member changed, or any JSON, or not JSON at all. */
function protectedVariant(rng: Rng, kid: string): string {
  const profile: Record<string, unknown> = { alg: 'EdDSA', b64: false, crit: ['b64'], kid, typ: 'liaison-envelope' };
  switch (rng.int(4)) {
    case 0:
      return JSON.stringify(randomJsonValue(rng));
    case 1: {
      const key = rng.pick(['alg', 'b64', 'crit', 'kid', 'typ', 'extra']);
      if (rng.chance(0.3)) delete profile[key];
      else profile[key] = randomJsonValue(rng);
      return JSON.stringify(profile);
    }
    case 2:
      return rng.pick(['', '{', 'null', '[]', '{"alg":"EdDSA"', '\u0000', ' '.repeat(600) + JSON.stringify(profile), '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]']);
    default:
      return Buffer.from(rng.bytes(rng.range(1, 64))).toString('latin1');
  }
}

function headerMutation(rng: Rng, h: Record<string, unknown>): string {
  const field = rng.pick(['id', 'type', 'sender', 'recipient', 'createdAt', 'expiresAt', 'caseRef', 'correlationId', 'causationId', 'handling', 'tlp', 'sourceReliability', 'informationReliability', 'tier', 'policyHash', 'requestHash']);
  if (field === 'createdAt' || field === 'expiresAt') {
    h[field] = rng.chance(0.2) ? null : { seconds: rng.pick(SECONDS), nanos: rng.pick(NANOS) };
  } else if (['handling', 'tlp', 'sourceReliability', 'informationReliability', 'tier'].includes(field)) {
    h[field] = rng.pick(ENUMS);
  } else {
    h[field] = rng.pick(STRINGS);
  }
  return `header.${field}`;
}

/** Body bytes that are wrong in some way: random, another type's, out-of-range values, huge strings. */
function bodyMutation(rng: Rng, lab: Lab, body: Uint8Array, type: string): { body: Uint8Array; what: string } {
  const info = lab.catalog.get(type);
  const plain = info.type.toObject(info.type.decode(body)) as Record<string, unknown>;
  switch (rng.int(5)) {
    case 0:
      return { body: rng.bytes(rng.int(64)), what: 'body.random' };
    case 1: {
      const other = lab.catalog.get(rng.pick(['CaseReferral', 'DocumentReport', 'IntelligenceReport']));
      const b = other.type.encode(other.type.fromObject({ summary: 's', documentNumber: 'n', kind: 1 })).finish();
      return { body: b, what: `body.as-${other.name}` };
    }
    case 2: {
      const f = rng.pick(info.node.fields);
      const v = f.kind === 'timestamp' ? { seconds: rng.pick(SECONDS), nanos: rng.pick(NANOS) } : f.kind === 'enum' ? rng.pick(ENUMS) : f.kind === 'scalar' && f.scalar === 'string' ? rng.pick(STRINGS) : undefined;
      if (v === undefined) return { body: flip(rng, body), what: 'body.flip' };
      plain[f.name] = f.repeated ? [v] : v;
      return { body: info.type.encode(info.type.fromObject(plain)).finish(), what: `body.${f.name}` };
    }
    case 3:
      return { body: flip(rng, body), what: 'body.flip' };
    default:
      return { body: body.subarray(0, rng.int(body.length)), what: 'body.truncate' };
  }
}

function flip(rng: Rng, bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes);
  if (out.length === 0) return out;
  for (let n = rng.range(1, 8); n > 0; n--) out[rng.int(out.length)]! ^= 1 << rng.int(8);
  return out;
}

function splice(rng: Rng, bytes: Uint8Array): Uint8Array {
  const at = rng.int(bytes.length + 1);
  if (rng.chance(0.5)) return Buffer.concat([bytes.subarray(0, at), rng.bytes(rng.range(1, 16)), bytes.subarray(at)]);
  return Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + rng.range(1, 16)))]);
}

function mutateEnvelope(rng: Rng, lab: Lab, base: Base, bases: Base[]): Mutant {
  const same = (data: Uint8Array, what: string, resigned = false): Mutant => ({ incoming: { ...base.incoming, data }, resigned, what });
  const data = base.incoming.data;
  const parts = lab.codec.decodeEnvelope(data);
  const sign = (signed: Uint8Array, prot?: string) => {
    if (prot === undefined) {
      const jws = signDetached(signed, { privateKey: lab.privateKey, kid: lab.kid });
      return lab.codec.encodeEnvelope({ signed, protected: jws.protected, signature: jws.signature });
    }
    const p = Buffer.from(prot, 'latin1');
    const signature = edSign(null, signingInput(Buffer.from(p.toString('base64url'), 'ascii'), signed), lab.privateKey);
    return lab.codec.encodeEnvelope({ signed, protected: p.length ? p : Buffer.from(' '), signature });
  };
  switch (rng.int(10)) {
    case 0:
      return same(flip(rng, data), 'envelope.flip');
    case 1:
      return same(data.subarray(0, rng.int(data.length)), 'envelope.truncate');
    case 2:
      return same(splice(rng, data), 'envelope.splice');
    case 3: {
      const part = rng.pick(['signed', 'protected', 'signature'] as const);
      const other = lab.codec.decodeEnvelope(rng.pick(bases).incoming.data);
      const value = rng.pick([rng.bytes(rng.range(1, 200)), other[part], flip(rng, parts[part]), new Uint8Array(rng.pick([100_000, 1_000]))]);
      if (value.length === 0) return same(rng.bytes(8), 'envelope.random');
      return same(lab.codec.encodeEnvelope({ ...parts, [part]: value }), `envelope.${part}`);
    }
    case 4: {
      const resign = rng.chance(0.5);
      const prot = protectedVariant(rng, lab.kid);
      if (resign) return same(sign(parts.signed, prot), 'protected.resigned', true);
      const p = Buffer.from(prot, 'latin1');
      return same(lab.codec.encodeEnvelope({ ...parts, protected: p.length ? p : Buffer.from('{') }), 'protected');
    }
    case 5:
    case 6: {
      const { Signed, Header } = lab.catalog.envelopeTypes;
      const s = Signed.decode(parts.signed) as unknown as { header: object; body: Uint8Array };
      const h = Header.toObject(s.header as never, { longs: Number }) as Record<string, unknown>;
      let what: string;
      let body = s.body;
      if (rng.chance(0.6)) what = headerMutation(rng, h);
      else {
        const type = lab.catalog.get(String(h.type)).name;
        const m = bodyMutation(rng, lab, body, type);
        body = m.body;
        what = m.what;
      }
      let signed: Uint8Array;
      try {
        signed = Signed.encode(Signed.create({ header: Header.fromObject(h), body })).finish();
      } catch {
        return same(flip(rng, data), 'envelope.flip');
      }
      const resign = rng.chance(0.7);
      return resign ? same(sign(signed), `${what}.resigned`, true) : same(lab.codec.encodeEnvelope({ ...parts, signed }), what);
    }
    case 7: {
      const subject = rng.pick(['', 'liaison.v1', 'liaison.v1.operational.documents.DocumentReport.xa-police', 'liaison.v1.secret.documents.DocumentReport.xa-police.all', 'liaison.v1.operational.documents.CaseReferral.xa-police.all', `liaison.v1.operational.documents.DocumentReport.xa-police.${HUGE}`, 'liaison.v1.personal.referrals.CaseReferral.xb-ngo.xb-ngo']);
      return { incoming: { ...base.incoming, subject }, resigned: false, what: 'subject' };
    }
    case 8: {
      const headers = { ...base.headers };
      const name = rng.pick([...Object.keys(headers), 'x-other']);
      headers[name] = rng.pick(STRINGS);
      return { incoming: { ...base.incoming, header: (n) => headers[n] }, resigned: false, what: `nats-header.${name}` };
    }
    default:
      return same(rng.bytes(rng.int(300)), 'random');
  }
}

/** What the send side would refuse in an opened message (dates, enums, ranges): undefined when it is sound. */
function sendSideProblem(lab: Lab, msg: ReceivedMessage): string | undefined {
  const h = msg.header;
  if (timestampFromDate(h.createdAt) === undefined) return `created_at ${h.createdAt.getTime()}`;
  if (h.expiresAt !== undefined && timestampFromDate(h.expiresAt) === undefined) return `expires_at ${h.expiresAt.getTime()}`;
  try {
    fromJson(lab.catalog.get(msg.type), msg.body);
  } catch (err) {
    return (err as Error).message.slice(0, 200);
  }
  return undefined;
}

function envelopeTarget(lab: Lab, name: string, bases: Base[]): FuzzTarget {
  return {
    name,
    weight: name === 'receive' ? 5 : 2,
    run(rng) {
      const base = rng.pick(bases);
      const m = mutateEnvelope(rng, lab, base, bases);
      let msg: ReceivedMessage;
      try {
        msg = openEnvelope(lab.openCtx, m.incoming, base.route);
      } catch (err) {
        return refusal(err);
      }
      const unsound = sendSideProblem(lab, msg);
      if (unsound) return { kind: 'inconsistent', what: `${m.what}: an opened message the sender's own validation refuses (${unsound})` };
      if (m.resigned) return { kind: 'ok' };
      // Opened without a fresh signature: only if the signed bytes and signature are what was signed.
      const before = lab.codec.decodeEnvelope(base.incoming.data);
      const after = lab.codec.decodeEnvelope(m.incoming.data);
      if (equal(before.signed, after.signed) && equal(before.signature, after.signature)) return { kind: 'ok' };
      return { kind: 'accepted', what: m.what };
    },
  };
}

function receiveBases(lab: Lab): Base[] {
  const out: Base[] = [];
  for (const [type, body, opts] of [
    ['DocumentReport', LAB_REPORT, {}],
    ['DocumentReport', { ...LAB_REPORT, holderName: 'Amir Haddad', remarks: 'seen' }, { caseRef: 'CASE-1', sourceReliability: 'B' as const, informationReliability: 2 as const }],
    ['CaseReferral', { kind: 'REFERRAL_KIND_PROTECTION', summary: 'needs shelter', consentRecorded: true }, { to: 'xb-ngo' }],
  ] as const) {
    const copy = lab.seal(type, body, opts);
    out.push({ incoming: { subject: copy.subject, data: copy.data, header: (n) => copy.headers[n] }, route: { route: 'message' }, headers: copy.headers });
  }
  return out;
}

function replyBases(lab: Lab): Base[] {
  return ['hash-1', 'hash-2'].map((requestHash) => {
    const copy = lab.seal('CaseReferral', { kind: 'REFERRAL_KIND_PROTECTION', summary: 'reply', consentRecorded: true }, { to: 'xb-ngo', requestHash });
    return { incoming: { subject: '_INBOX.xb-ngo.reply', data: copy.data, header: (n) => copy.headers[n] }, route: { route: 'reply', from: 'xa-police', requestHash }, headers: copy.headers };
  });
}

// ---------------------------------------------------------------------------------------------
// Text formats: policy YAML, scenario YAML, CSV.
// ---------------------------------------------------------------------------------------------

const YAML_SNIPPETS = ['&a ', '*a', '*nope', '!!binary ', '!!js/function ', '? ', '<<: *a', '[[[[[[[[[[', '{', '}', 'name: &x [*x]', 'x: &y { z: *y }', 'k'.repeat(10_000), '9'.repeat(400), '- ', '\t', '~', 'null', '0x1F', '.inf', '-.nan', '2026-13-45', '"\\u0000"', '|', '>-', '%YAML 1.1', '---', '...', ': :', '"', "'", '#', '@', '`', '\u202e', '\uFEFF'];
const YAML_CHARS = ':-[]{}&*!|>\'"#%@`,?\n\t 0aZ\\';

/** 1–3 random edits of a YAML text: characters, lines, snippets, misspelt keys. */
function mutateYaml(rng: Rng, text: string): string {
  let t = text;
  for (let n = rng.range(1, 3); n > 0; n--) {
    const lines = t.split('\n');
    const at = rng.int(Math.max(t.length, 1));
    switch (rng.int(7)) {
      case 0:
        t = t.slice(0, at) + rng.pick([...YAML_CHARS]) + t.slice(at + 1);
        break;
      case 1:
        t = t.slice(0, at) + t.slice(at + rng.range(1, 40));
        break;
      case 2: {
        const i = rng.int(lines.length);
        lines.splice(rng.int(lines.length), 0, lines[i]!);
        t = lines.join('\n');
        break;
      }
      case 3: {
        const i = rng.int(lines.length);
        const indent = /^\s*-?\s*/.exec(lines[i]!)![0];
        lines[i] = indent + rng.pick(YAML_SNIPPETS) + lines[i]!.slice(indent.length);
        t = lines.join('\n');
        break;
      }
      case 4: {
        const [i, j] = [rng.int(lines.length), rng.int(lines.length)];
        [lines[i], lines[j]] = [lines[j]!, lines[i]!];
        t = lines.join('\n');
        break;
      }
      case 5: {
        // A value replaced by an anchor and an alias to it inside it: a cycle.
        const i = rng.int(lines.length);
        const m = /^(\s*-?\s*[A-Za-z-]+:)\s*\S.*$/.exec(lines[i]!);
        if (m) lines[i] = `${m[1]} ${rng.pick(['&c [*c]', '&c { k: *c }', '&c [1, [2, *c]]'])}`;
        t = lines.join('\n');
        break;
      }
      default: {
        const m = /[a-z]{3,}:/g;
        const keys = [...t.matchAll(m)];
        if (keys.length === 0) break;
        const k = rng.pick(keys);
        const pos = k.index + rng.int(k[0].length - 1);
        t = t.slice(0, pos) + rng.pick([...'abcdefghijklmnopqrstuvwxyz']) + t.slice(pos + 1);
      }
    }
  }
  return t;
}

function policyTarget(lab: Lab): FuzzTarget {
  const texts = [LAB_POLICY, readFileSync(join(ROOT, 'deploy/policies/federation.yaml'), 'utf8')];
  const catalog = typeCatalogOf(lab.catalog);
  return {
    name: 'policy',
    weight: 0.5,
    run: (rng) => attempt(() => parsePolicy(mutateYaml(rng, texts[rng.chance(0.1) ? 1 : 0]!), { file: 'fuzz.yaml', catalog })),
  };
}

const SMALL_SCENARIO = `
version: 1
name: small
policy: p.yaml
clock: { speed: 0 }
timeline:
  - at: 0m
    send: { from: xa-coast-guard, type: IntelligenceReport, to: all, tlp: AMBER, name: intel }
    body: &b { summary: Vessel sighted, vessel: { name: STELLA MARIS II } }
    expect: { tiers: { mac-centre: operational }, notSeen: [xa-ngo-harbour] }
  - at: 1h
    send: { from: xa-border-police, type: CaseReferral, to: xa-ngo-harbour, name: ref }
    body: *b
    expect: { withheld: { xa-ngo-harbour: [criminalIntelligence] }, caseState: referred }
  - rogue: { as: xa-ngo-harbour, attempts: [{ what: read, op: sub, subject: "liaison.>" }] }
  - retract: { as: xa-border-police, message: ref, reason: error }
    expect: { caseState: withdrawn, alertsRetracted: [xa-border-police] }
  - note: done
`;

function scenarioTarget(): FuzzTarget {
  const texts = [SMALL_SCENARIO, readFileSync(join(ROOT, 'deploy/scenarios/interception.yaml'), 'utf8')];
  return {
    name: 'scenario',
    weight: 0.5,
    run: (rng) => attempt(() => parseScenario(mutateYaml(rng, texts[rng.chance(0.1) ? 1 : 0]!), '/tmp/fuzz.yaml')),
  };
}

const CSV_COLUMNS = ['document_number', 'issuing_country', 'document_type', 'status', 'issue_date', 'expiry_date', 'holder_name', 'holder_birth_date', 'holder_nationality', 'place', 'remarks', 'national_reference'];
const CSV_VALUES = ['XA123', 'XAA', 'D', 'QQQ', 'passport', 'stolen', 'DOCUMENT_STATUS_LOST', 'misplaced', '2024-02-29', '2024-13-01', '2023-02-29', '0000-01-01', '31/01/2030', '1990', '1990-02', 'Amir "the pilot" Haddad', 'a,b', 'two\nlines', 'cr\rhere', '\u0000', '\u001b[31m', '\u202e', '\u0085', '🙂', ' ', '', 'x'.repeat(5_000)];

/** A valid cell per column, so that some rows go all the way through. */
const VALID_CELL: Readonly<Record<string, string>> = {
  document_number: 'XA1234567',
  issuing_country: 'XAA',
  document_type: 'passport',
  status: 'stolen',
  issue_date: '2020-02-29',
  expiry_date: '2030-02-28',
  holder_name: '"Haddad, Amir"',
  holder_birth_date: '1990-01-31',
  holder_nationality: 'XBB',
  place: '"Port of Xandria\nberth 4"',
  remarks: 'seized',
  national_reference: 'REF-1',
};

function csvField(rng: Rng): string {
  const v = rng.chance(0.8) ? rng.pick(CSV_VALUES) : String.fromCharCode(...Array.from({ length: rng.int(12) }, () => rng.pick([34, 44, 10, 13, 0, 9, 65, 0x7f, 0x202e, 0xd800])));
  if (rng.chance(0.3) || /[",\n\r]/.test(v)) return rng.chance(0.9) ? `"${v.replaceAll('"', '""')}"` : `"${v}`;
  return v;
}

function csvText(rng: Rng): string {
  const random = () => Array.from({ length: rng.range(1, 8) }, () => (rng.chance(0.9) ? rng.pick(CSV_COLUMNS) : rng.pick(['colour', 'Status', ' status ', ''])));
  const usable = () => [...CSV_COLUMNS.slice(0, 4), ...CSV_COLUMNS.slice(4).filter(() => rng.chance(0.4))].sort(() => rng.next() - 0.5);
  const header = rng.chance(0.7) ? usable() : random();
  const rows = [header.join(',')];
  for (let r = rng.int(8); r > 0; r--) {
    const width = header.length + (rng.chance(0.1) ? rng.range(-1, 1) : 0);
    rows.push(Array.from({ length: width }, (_, i) => (rng.chance(0.9) && VALID_CELL[header[i]!] !== undefined ? VALID_CELL[header[i]!]! : csvField(rng))).join(','));
  }
  let t = (rng.chance(0.1) ? '\uFEFF' : '') + rows.join(rng.pick(['\n', '\r\n', '\r']));
  if (rng.chance(0.2)) {
    const at = rng.int(t.length + 1);
    t = t.slice(0, at) + rng.pick(['"', '""', ',', '\r', '\n', '\u0000']) + t.slice(at);
  }
  return t;
}

const sameRecords = (a: CsvRecord[], b: CsvRecord[]) => JSON.stringify(a) === JSON.stringify(b);

function csvTarget(): FuzzTarget {
  return {
    name: 'csv',
    weight: 2,
    run(rng) {
      const text = csvText(rng);
      let whole: CsvRecord[];
      try {
        whole = parseCsv(text);
        const p = new CsvParser();
        const streamed: CsvRecord[] = [];
        for (let i = 0; i < text.length; ) {
          const n = rng.range(1, 64);
          streamed.push(...p.push(text.slice(i, i + n)));
          i += n;
        }
        streamed.push(...p.end());
        if (!sameRecords(whole, streamed)) return { kind: 'inconsistent', what: `chunked parse differs for ${JSON.stringify(text).slice(0, 200)}` };
      } catch (err) {
        return refusal(err);
      }
      if (whole.length === 0) return { kind: 'ok' };
      let refused: Outcome = { kind: 'ok' };
      try {
        const columns = columnMap(whole[0]!);
        for (const record of whole.slice(1)) {
          try {
            reportBody(record, columns);
          } catch (err) {
            refused = refusal(err);
            if (refused.kind === 'untyped') return refused;
          }
        }
      } catch (err) {
        return refusal(err);
      }
      return refused;
    },
  };
}

/** Every target, over one lab. */
export function fuzzTargets(lab: Lab): FuzzTarget[] {
  return [envelopeTarget(lab, 'receive', receiveBases(lab)), envelopeTarget(lab, 'reply', replyBases(lab)), policyTarget(lab), scenarioTarget(), csvTarget()];
}

/** Run `cases` cases from `seed`, spread over the targets by weight; deterministic for a seed. */
export function runFuzz(targets: FuzzTarget[], opts: { cases: number; seed: number; rng: (seed: number) => Rng }): FuzzStats {
  const rng = opts.rng(opts.seed);
  const total = targets.reduce((s, t) => s + t.weight, 0);
  const stats: FuzzStats = { seed: opts.seed, cases: 0, untyped: 0, accepted: 0, inconsistent: 0, ms: 0, byTarget: {}, failures: [] };
  for (const t of targets) stats.byTarget[t.name] = { cases: 0, ok: 0, refused: 0, untyped: 0, accepted: 0, inconsistent: 0, ms: 0 };
  const t0 = performance.now();
  for (let i = 0; i < opts.cases; i++) {
    let r = rng.next() * total;
    const target = targets.find((t) => (r -= t.weight) < 0) ?? targets[targets.length - 1]!;
    // Each case draws from its own stream, so one target's draws never shift another's cases.
    const caseRng = opts.rng((opts.seed * 1_000_003 + i) | 0);
    const started = performance.now();
    const out = target.run(caseRng);
    const tally = stats.byTarget[target.name]!;
    tally.ms += performance.now() - started;
    stats.cases++;
    tally.cases++;
    tally[out.kind]++;
    if (out.kind === 'untyped' || out.kind === 'accepted' || out.kind === 'inconsistent') {
      stats[out.kind]++;
      if (stats.failures.length < 10) stats.failures.push(`case ${i} (${target.name}): ${out.kind} ${'error' in out ? out.error : out.what}`);
    }
  }
  stats.ms = performance.now() - t0;
  return stats;
}
