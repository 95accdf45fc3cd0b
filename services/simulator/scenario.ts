import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LiaisonError, type ErrorCode } from '../sdk/errors.ts';
import { parseDuration } from '../sdk/policy/index.ts';
import { HANDLING_CODES, TIERS, TLP_LABELS, type HandlingCode, type Tier, type TlpLabel } from '../sdk/tier.ts';
import { parseScenarioYaml, ScenarioProblems } from './scenario-yaml.ts';

/** What must happen to a sent message. */
export interface SendExpectation {
  /** The sending SDK refuses it with this code (nothing is published). */
  refused?: ErrorCode;
  /** The case registry refuses it with this code (a signed WorkflowRejection to the sender). */
  rejected?: ErrorCode;
  /** The tier of the copy each listed agency receives. */
  tiers?: Record<string, Tier>;
  /** Agencies that must not receive it. */
  notSeen?: string[];
  /** Fields each listed agency's copy must not carry. */
  withheld?: Record<string, string[]>;
  /** The workflow case the message opened or moved is then in this state. */
  caseState?: string;
}

/** A raw NATS attempt by a rogue integration that uses an agency's own valid credentials. */
export interface RogueAttempt {
  what: string;
  op: 'pub' | 'sub' | 'req';
  subject: string;
}

interface Base {
  /** Simulated time from the start of the scenario, ms. */
  at: number;
  title?: string;
}

/** One event of a scenario's timeline. */
export type ScenarioEvent = Base &
  (
    | {
        kind: 'send';
        from: string;
        type: string;
        to?: string;
        tlp?: TlpLabel;
        handling?: HandlingCode;
        caseRef?: string;
        /** Name of an earlier message this one answers (header causation id). */
        causation?: string;
        /** Name of an earlier DisseminationConsentResponse the sender received: the originator's consent to pass a report on (¶9(c)). */
        consent?: string;
        /** Name later events use for this message (`${name}` in bodies is its id). */
        name?: string;
        body: Record<string, unknown>;
        expect: SendExpectation;
      }
    | { kind: 'check-document'; from: string; country: string; number: string; location?: string; expect: { outcome: 'hit' | 'no-hit'; notified?: string } }
    | { kind: 'expect-case'; of: string; state: string; confirmed?: number; waitlisted?: number }
    | { kind: 'expect-correlation'; agencies: string[] }
    /** A notice (reminder, escalation, state change…) reaches an agency, optionally about the case of a named message. */
    | { kind: 'expect-notice'; to: string; type: string; about?: string }
    /** The multiagency centre publishes its strategic report now (¶17); each listed agency must receive it at the given tier. */
    | { kind: 'strategic-report'; tiers: Record<string, Tier> }
    | { kind: 'rogue'; as: string; attempts: RogueAttempt[] }
    | { kind: 'tamper'; from: string; type: string; to: string; body: Record<string, unknown> }
    | { kind: 'revoke'; agency: string }
    /**
     * The sender of a named message retracts it (`liaison retract`), or corrects it with `body` (`liaison
     * correct`; `name` names the replacement). Every prior recipient must acknowledge with a signed receipt;
     * `expect.caseState` is the state of the workflow case the original belonged to afterwards;
     * `expect.alertsRetracted` / `alertsCorrected` name agencies whose correlation alert the multiagency
     * centre must retract (no longer part of the link) or correct (recomputed without the original).
     */
    | {
        kind: 'retract' | 'correct';
        as: string;
        message: string;
        reason?: string;
        name?: string;
        body?: Record<string, unknown>;
        expect: { caseState?: string; alertsRetracted?: string[]; alertsCorrected?: string[] };
      }
    | { kind: 'note'; text: string }
  );

/** A parsed scenario file. */
export interface Scenario {
  file: string;
  name: string;
  title: string;
  description?: string;
  /** Absolute path of the policy the scenario runs under. */
  policyFile: string;
  /** Simulated seconds per real second between events (0: as fast as deliveries allow). */
  speed: number;
  events: ScenarioEvent[];
}

const KINDS = ['send', 'check-document', 'expect-case', 'expect-correlation', 'expect-notice', 'strategic-report', 'rogue', 'tamper', 'revoke', 'retract', 'correct', 'note'] as const;

type Problems = ScenarioProblems;

function agencyList(p: Problems, v: unknown, path: string): string[] {
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  p.add(path, 'a list of agency ids');
  return [];
}

function obj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(p: Problems, o: Record<string, unknown>, key: string, path: string, required = true): string | undefined {
  const v = o[key];
  if (v === undefined) {
    if (required) p.add(`${path}.${key}`, 'required');
    return undefined;
  }
  if (typeof v !== 'string' || v === '') {
    p.add(`${path}.${key}`, `expected a non-empty string, got ${JSON.stringify(v)}`);
    return undefined;
  }
  return v;
}

function oneOf<T extends string>(p: Problems, v: unknown, allowed: readonly T[], path: string): T | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
  p.add(path, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return undefined;
}

function strings(p: Problems, v: unknown, path: string): string[] {
  if (v === undefined) return [];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  p.add(path, 'expected a list of strings');
  return [];
}

function tierMap(p: Problems, v: unknown, path: string): Record<string, Tier> | undefined {
  if (v === undefined) return undefined;
  if (!obj(v)) {
    p.add(path, 'expected agency: tier pairs');
    return undefined;
  }
  const out: Record<string, Tier> = {};
  for (const [k, t] of Object.entries(v)) {
    const tier = oneOf(p, t, TIERS, `${path}.${k}`);
    if (tier) out[k] = tier;
  }
  return out;
}

function readEvent(p: Problems, raw: unknown, i: number, at: number): ScenarioEvent | undefined {
  const path = `timeline[${i}]`;
  if (!obj(raw)) {
    p.add(path, 'expected a mapping');
    return undefined;
  }
  const kinds = KINDS.filter((k) => k in raw);
  if (kinds.length !== 1) {
    p.add(path, `expected exactly one of ${KINDS.join(', ')}${kinds.length ? ` (found ${kinds.join(', ')})` : ''}`);
    return undefined;
  }
  const kind = kinds[0]!;
  const title = typeof raw.title === 'string' ? raw.title : undefined;
  const base = { at, ...(title ? { title } : {}) };
  const spec = raw[kind];
  const sp = `${path}.${kind}`;
  if (kind === 'note') return typeof spec === 'string' ? { ...base, kind, text: spec } : (p.add(sp, 'expected text'), undefined);
  if (!obj(spec)) {
    p.add(sp, 'expected a mapping');
    return undefined;
  }
  switch (kind) {
    case 'send': {
      const ex = obj(raw.expect) ? raw.expect : raw.expect === undefined ? {} : (p.add(`${path}.expect`, 'expected a mapping'), {});
      const body = raw.body === undefined ? {} : obj(raw.body) ? raw.body : (p.add(`${path}.body`, 'expected a mapping'), {});
      const withheld = obj(ex.withheld) ? Object.fromEntries(Object.entries(ex.withheld).map(([k, v]) => [k, strings(p, v, `${path}.expect.withheld.${k}`)])) : undefined;
      return {
        ...base,
        kind,
        from: str(p, spec, 'from', sp) ?? '',
        type: str(p, spec, 'type', sp) ?? '',
        ...(spec.to !== undefined ? { to: str(p, spec, 'to', sp) } : {}),
        ...(spec.tlp !== undefined ? { tlp: oneOf(p, spec.tlp, TLP_LABELS, `${sp}.tlp`) } : {}),
        ...(spec.handling !== undefined ? { handling: oneOf(p, spec.handling, HANDLING_CODES, `${sp}.handling`) } : {}),
        ...(spec.case !== undefined ? { caseRef: str(p, spec, 'case', sp) } : {}),
        ...(spec.causation !== undefined ? { causation: str(p, spec, 'causation', sp) } : {}),
        ...(spec.consent !== undefined ? { consent: str(p, spec, 'consent', sp) } : {}),
        ...(spec.name !== undefined ? { name: str(p, spec, 'name', sp) } : {}),
        body,
        expect: {
          ...(typeof ex.refused === 'string' ? { refused: ex.refused as ErrorCode } : {}),
          ...(typeof ex.rejected === 'string' ? { rejected: ex.rejected as ErrorCode } : {}),
          ...(ex.tiers !== undefined ? { tiers: tierMap(p, ex.tiers, `${path}.expect.tiers`) } : {}),
          ...(ex.notSeen !== undefined ? { notSeen: strings(p, ex.notSeen, `${path}.expect.notSeen`) } : {}),
          ...(withheld ? { withheld } : {}),
          ...(typeof ex.caseState === 'string' ? { caseState: ex.caseState } : {}),
        },
      };
    }
    case 'check-document': {
      const ex = obj(raw.expect) ? raw.expect : {};
      const outcome = oneOf(p, ex.outcome ?? 'hit', ['hit', 'no-hit'] as const, `${path}.expect.outcome`) ?? 'hit';
      return {
        ...base,
        kind,
        from: str(p, spec, 'from', sp) ?? '',
        country: str(p, spec, 'country', sp) ?? '',
        number: str(p, spec, 'number', sp) ?? '',
        ...(spec.location !== undefined ? { location: str(p, spec, 'location', sp) } : {}),
        expect: { outcome, ...(typeof ex.notified === 'string' ? { notified: ex.notified } : {}) },
      };
    }
    case 'expect-case':
      return {
        ...base,
        kind,
        of: str(p, spec, 'of', sp) ?? '',
        state: str(p, spec, 'state', sp) ?? '',
        ...(typeof spec.confirmed === 'number' ? { confirmed: spec.confirmed } : {}),
        ...(typeof spec.waitlisted === 'number' ? { waitlisted: spec.waitlisted } : {}),
      };
    case 'expect-correlation':
      return { ...base, kind, agencies: strings(p, spec.agencies, `${sp}.agencies`) };
    case 'strategic-report':
      return { ...base, kind, tiers: tierMap(p, spec.tiers, `${sp}.tiers`) ?? {} };
    case 'expect-notice':
      return { ...base, kind, to: str(p, spec, 'to', sp) ?? '', type: str(p, spec, 'type', sp) ?? '', ...(spec.about !== undefined ? { about: str(p, spec, 'about', sp) } : {}) };
    case 'rogue': {
      const attempts = Array.isArray(spec.attempts) ? spec.attempts : (p.add(`${sp}.attempts`, 'expected a list'), []);
      return {
        ...base,
        kind,
        as: str(p, spec, 'as', sp) ?? '',
        attempts: attempts.map((a, j) => {
          const ap = `${sp}.attempts[${j}]`;
          const o = obj(a) ? a : {};
          return { what: str(p, o, 'what', ap) ?? '', op: oneOf(p, o.op, ['pub', 'sub', 'req'] as const, `${ap}.op`) ?? 'pub', subject: str(p, o, 'subject', ap) ?? '' };
        }),
      };
    }
    case 'tamper':
      return { ...base, kind, from: str(p, spec, 'from', sp) ?? '', type: str(p, spec, 'type', sp) ?? '', to: str(p, spec, 'to', sp) ?? '', body: obj(raw.body) ? raw.body : {} };
    case 'revoke':
      return { ...base, kind, agency: str(p, spec, 'agency', sp) ?? '' };
    case 'retract':
    case 'correct': {
      const ex = obj(raw.expect) ? raw.expect : {};
      if (kind === 'correct' && !obj(raw.body)) p.add(`${path}.body`, 'a correction needs the corrected body (a mapping)');
      return {
        ...base,
        kind,
        as: str(p, spec, 'as', sp) ?? '',
        message: str(p, spec, 'message', sp) ?? '',
        ...(spec.reason !== undefined ? { reason: str(p, spec, 'reason', sp) } : {}),
        ...(spec.name !== undefined ? { name: str(p, spec, 'name', sp) } : {}),
        ...(obj(raw.body) ? { body: raw.body } : {}),
        expect: {
          ...(typeof ex.caseState === 'string' ? { caseState: ex.caseState } : {}),
          ...(ex.alertsRetracted !== undefined ? { alertsRetracted: agencyList(p, ex.alertsRetracted, `${path}.expect.alertsRetracted`) } : {}),
          ...(ex.alertsCorrected !== undefined ? { alertsCorrected: agencyList(p, ex.alertsCorrected, `${path}.expect.alertsCorrected`) } : {}),
        },
      };
    }
  }
}

function invalid(file: string, p: ScenarioProblems): LiaisonError {
  const lines = p.lines(file);
  const first = p.list[0]!;
  return new LiaisonError('ERR_CONFIG_INVALID', `${file}: invalid scenario: ${lines[0]}${lines.length > 1 ? ` (and ${lines.length - 1} more)` : ''}`, {
    file,
    line: first.line,
    column: first.column,
    errors: lines,
  });
}

/** The document's values, once the YAML is known to be acyclic and to use only known keys. */
function readYaml(text: string, file: string): { doc: unknown; p: ScenarioProblems } {
  const { doc, problems: p } = parseScenarioYaml(text);
  if (p.list.length > 0) throw invalid(file, p);
  try {
    return { doc: doc.toJS({ maxAliasCount: 1000 }), p };
  } catch (err) {
    p.add('(top)', `not usable YAML: ${(err as Error).message.split('\n')[0]}`);
    throw invalid(file, p);
  }
}

/**
 * Parse scenario text. YAML errors, alias cycles, unknown keys (with a "did you mean" hint) and every invalid
 * value are listed as `FILE:LINE:COL path: what` in one ERR_CONFIG_INVALID (details: file, line and column
 * of the first, errors).
 */
export function parseScenario(text: string, file: string): Scenario {
  const { doc, p } = readYaml(text, file);
  if (!obj(doc)) throw new LiaisonError('ERR_CONFIG_INVALID', `${file}: expected a mapping with version, name, policy and timeline`, { file });
  if (doc.version !== 1) p.add('version', `unsupported version ${JSON.stringify(doc.version)} (expected 1)`);
  const name = str(p, doc, 'name', '(top)') ?? '';
  const policy = str(p, doc, 'policy', '(top)') ?? '';
  const clock = obj(doc.clock) ? doc.clock : {};
  const speed = clock.speed === undefined ? 0 : typeof clock.speed === 'number' && clock.speed >= 0 ? clock.speed : (p.add('clock.speed', 'expected a number ≥ 0'), 0);
  const events: ScenarioEvent[] = [];
  if (!Array.isArray(doc.timeline) || doc.timeline.length === 0) p.add('timeline', 'expected a non-empty list of events');
  let at = 0;
  for (const [i, raw] of (Array.isArray(doc.timeline) ? doc.timeline : []).entries()) {
    if (obj(raw) && raw.at !== undefined) {
      const ms = typeof raw.at === 'string' ? (raw.at === '0' || raw.at === '0m' ? 0 : parseDuration(raw.at)) : raw.at === 0 ? 0 : undefined;
      if (ms === undefined) p.add(`timeline[${i}].at`, `invalid time ${JSON.stringify(raw.at)} (expected e.g. 0m, 90m, 6h, 14d from the start)`);
      else if (ms < at) p.add(`timeline[${i}].at`, `goes back in time (${JSON.stringify(raw.at)} after ${at / 60_000} minutes)`);
      else at = ms;
    }
    const e = readEvent(p, raw, i, at);
    if (e) events.push(e);
  }
  if (p.list.length > 0) throw invalid(file, p);
  return {
    file,
    name,
    title: typeof doc.title === 'string' ? doc.title : name,
    ...(typeof doc.description === 'string' ? { description: doc.description } : {}),
    policyFile: resolve(dirname(file), policy),
    speed,
    events,
  };
}

/** Read and parse a scenario file. */
export async function loadScenario(file: string): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new LiaisonError('ERR_CONFIG_INVALID', `cannot read scenario ${file}: ${(err as Error).message}`, { file });
  }
  return parseScenario(text, resolve(file));
}
