/**
 * The YAML side of scenario files: parse with source positions, refuse alias cycles and unknown keys
 * (with a "did you mean" hint) before anything reads the values, and locate any problem by its key path.
 *
 * @module
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { closest } from '../sdk/policy/issues.ts';

/** The keys each kind of event's spec may have (`note` is plain text). */
const SPEC_KEYS: Readonly<Record<string, readonly string[]>> = {
  send: ['from', 'type', 'to', 'tlp', 'handling', 'case', 'causation', 'consent', 'name'],
  'check-document': ['from', 'country', 'number', 'location'],
  'expect-case': ['of', 'state', 'confirmed', 'waitlisted'],
  'expect-correlation': ['agencies'],
  'expect-notice': ['to', 'type', 'about'],
  'strategic-report': ['tiers'],
  rogue: ['as', 'attempts'],
  tamper: ['from', 'type', 'to'],
  revoke: ['agency'],
  retract: ['as', 'message', 'reason', 'name'],
  correct: ['as', 'message', 'reason', 'name'],
};
/** The keys of an event's `expect`, by kind (kinds absent here take no `expect`). */
const EXPECT_KEYS: Readonly<Record<string, readonly string[]>> = {
  send: ['refused', 'rejected', 'tiers', 'notSeen', 'withheld', 'caseState'],
  'check-document': ['outcome', 'notified'],
  retract: ['caseState', 'alertsRetracted', 'alertsCorrected'],
  correct: ['caseState', 'alertsRetracted', 'alertsCorrected'],
};
/** Kinds whose event carries a `body`. */
const BODY_KINDS = ['send', 'tamper', 'retract', 'correct'];
const TOP_KEYS = ['version', 'name', 'title', 'description', 'policy', 'clock', 'timeline'];
const CLOCK_KEYS = ['speed'];
const ATTEMPT_KEYS = ['what', 'op', 'subject'];

/** Every kind of event. */
export const EVENT_KINDS = [...Object.keys(SPEC_KEYS), 'note'];

/** A problem of a scenario file, located in the source. */
export interface ScenarioProblem {
  line: number;
  column: number;
  /** Key path, e.g. `timeline[3].send.tlp` (`(top)` for the document). */
  path: string;
  message: string;
}

/** A parsed scenario document with what is needed to locate problems in it. */
export interface ScenarioDocument {
  doc: Document.Parsed;
  lines: LineCounter;
}

/** Problems found while reading a scenario; each is located by an offset or by its key path. */
export class ScenarioProblems {
  readonly list: ScenarioProblem[] = [];
  readonly #src: ScenarioDocument | undefined;

  constructor(src?: ScenarioDocument) {
    this.#src = src;
  }

  /** Record a problem at `path`, located at `offset` when given, else at the node the path names (or its nearest parent). */
  add(path: string, message: string, offset?: number): void {
    const at = offset ?? (this.#src ? locate(this.#src.doc, path) : 0);
    const pos = this.#src ? this.#src.lines.linePos(at) : { line: 1, col: 1 };
    this.list.push({ line: Math.max(pos.line, 1), column: Math.max(pos.col, 1), path, message });
  }

  /** `FILE:LINE:COL PATH: MESSAGE` for each problem. */
  lines(file: string): string[] {
    return this.list.map((p) => `${file}:${p.line}:${p.column} ${p.path}: ${p.message}`);
  }
}

function segments(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const part of path.replace(/^\(top\)\.?/, '').match(/[^.[\]]+|\[\d+\]/g) ?? []) {
    out.push(part.startsWith('[') ? Number(part.slice(1, -1)) : part);
  }
  return out;
}

/** The source offset of the node at `path`, or of its nearest existing parent. */
function locate(doc: Document.Parsed, path: string): number {
  const keys = segments(path);
  for (let n = keys.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(keys.slice(0, n), true);
    const range = (node as Node | undefined)?.range;
    if (range) return range[0];
  }
  return 0;
}

/**
 * Parse scenario text keeping positions. YAML syntax errors, alias cycles (`a: &x [*x]`, which would make
 * the values infinite) and unknown keys are recorded in `problems`; the document is returned for reading
 * only when there are none.
 */
export function parseScenarioYaml(text: string): { doc: Document.Parsed; problems: ScenarioProblems } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const p = new ScenarioProblems({ doc, lines });
  for (const err of doc.errors) p.add('(top)', `not YAML: ${err.message.split('\n')[0]}`, err.pos[0]);
  if (doc.errors.length === 0) {
    findAliasCycles(doc, p);
    if (p.list.length === 0) checkKeys(doc, p);
  }
  return { doc, problems: p };
}

/** An alias inside the very node its anchor names is a cycle: refuse it where the alias stands. */
function findAliasCycles(doc: Document.Parsed, p: ScenarioProblems): void {
  visit(doc, {
    Alias(_key, alias, path) {
      const target = alias.resolve(doc);
      if (target && path.includes(target as never)) {
        p.add('(top)', `alias *${alias.source} refers to a node that contains it (a cycle)`, alias.range?.[0]);
      }
    },
  });
}

function deref(doc: Document.Parsed, node: unknown): unknown {
  return isAlias(node) ? node.resolve(doc) : node;
}

/** Report the keys of mapping `node` outside `allowed`; returns the mapping's entries by key. */
function keysOf(doc: Document.Parsed, p: ScenarioProblems, node: unknown, allowed: readonly string[] | undefined, path: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const map = deref(doc, node);
  if (!isMap(map)) return out;
  for (const pair of map.items) {
    const keyNode = deref(doc, pair.key);
    const key = isScalar(keyNode) ? String(keyNode.value) : '';
    const at = (keyNode as Node | undefined)?.range?.[0];
    if (allowed && !allowed.includes(key)) {
      const hint = closest(key, allowed);
      p.add(path ? `${path}.${key}` : key, `unknown key "${key}" (expected one of ${allowed.join(', ')}${hint ? `; did you mean "${hint}"?` : ''})`, at);
      continue;
    }
    out.set(key, pair.value);
  }
  return out;
}

/** Walk the document against the scenario's key schema (bodies are checked against the message schemas later). */
function checkKeys(doc: Document.Parsed, p: ScenarioProblems): void {
  const top = keysOf(doc, p, doc.contents, TOP_KEYS, '');
  keysOf(doc, p, top.get('clock'), CLOCK_KEYS, 'clock');
  const timeline = deref(doc, top.get('timeline'));
  if (!isSeq(timeline)) return;
  timeline.items.forEach((item, i) => checkEvent(doc, p, item, `timeline[${i}]`));
}

function checkEvent(doc: Document.Parsed, p: ScenarioProblems, item: unknown, path: string): void {
  const kinds = [...keysOf(doc, p, item, undefined, path).keys()].filter((k) => EVENT_KINDS.includes(k));
  const kind = kinds.length === 1 ? kinds[0]! : undefined;
  // Without exactly one kind the event is refused anyway (by the reader); do not add noise about expect and body.
  const expect = !kind || EXPECT_KEYS[kind] ? ['expect'] : [];
  const body = !kind || BODY_KINDS.includes(kind) ? ['body'] : [];
  const allowed = ['at', 'title', ...EVENT_KINDS, ...expect, ...body];
  const event = keysOf(doc, p, item, allowed, path);
  if (!kind || kind === 'note') return;
  const spec = keysOf(doc, p, event.get(kind), SPEC_KEYS[kind], `${path}.${kind}`);
  if (EXPECT_KEYS[kind]) keysOf(doc, p, event.get('expect'), EXPECT_KEYS[kind], `${path}.expect`);
  const attempts = deref(doc, spec.get('attempts'));
  if (kind === 'rogue' && isSeq(attempts)) {
    attempts.items.forEach((a, j) => keysOf(doc, p, a, ATTEMPT_KEYS, `${path}.rogue.attempts[${j}]`));
  }
}
