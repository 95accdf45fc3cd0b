import { isAlias, isMap, isScalar, isSeq, type Document, type ParsedNode } from 'yaml';
import { closest, type IssueList } from './issues.ts';

/** What a validator needs while walking a parsed YAML document. */
export interface Walk {
  doc: Document.Parsed;
  issues: IssueList;
}

/** A value in the document with where it was found: its key path and the offset errors point at. */
export interface Located {
  value: ParsedNode | null;
  path: string;
  /** Source offset errors about this value point at (the key of a map entry, the item of a list). */
  at: number | undefined;
}

/** A map entry. */
export interface Entry extends Located {
  key: string;
}

/** Join a key path: `roles` + `ngo` → `roles.ngo`. */
export function child(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function deref(w: Walk, node: ParsedNode | null | undefined): ParsedNode | null {
  if (node && isAlias(node)) return (node.resolve(w.doc) as ParsedNode | undefined) ?? null;
  return node ?? null;
}

/** Describe a node for an error message: `a list`, `"secret"`, `nothing`. */
export function describe(node: ParsedNode | null): string {
  if (node === null) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return node.value === null ? 'nothing' : JSON.stringify(node.value);
  return 'an unsupported node';
}

/**
 * The entries of a mapping. When `allowed` is given, other keys are reported as unknown (with a
 * "did you mean" hint) and left out. Not a mapping → reported, undefined.
 */
export function entries(w: Walk, loc: Located, allowed?: readonly string[]): Entry[] | undefined {
  const node = deref(w, loc.value);
  if (!node || !isMap(node)) {
    w.issues.add(node?.range?.[0] ?? loc.at, loc.path, `expected a mapping, got ${describe(node)}`);
    return undefined;
  }
  const out: Entry[] = [];
  for (const pair of node.items) {
    const keyNode = deref(w, pair.key as ParsedNode | null);
    const at = keyNode?.range?.[0] ?? loc.at;
    if (!keyNode || !isScalar(keyNode) || (typeof keyNode.value !== 'string' && typeof keyNode.value !== 'number')) {
      w.issues.add(at, loc.path, `keys must be plain strings, got ${describe(keyNode)}`);
      continue;
    }
    const key = String(keyNode.value);
    const path = child(loc.path, key);
    if (allowed && !allowed.includes(key)) {
      const hint = closest(key, allowed);
      w.issues.add(at, path, `unknown key "${key}" (expected one of ${allowed.join(', ')}${hint ? `; did you mean "${hint}"?` : ''})`);
      continue;
    }
    out.push({ key, path, at, value: deref(w, pair.value as ParsedNode | null) });
  }
  return out;
}

/** Find entry `key`; when `required` and absent, report `<path>.<key>: is required` at `parent`. */
export function field(w: Walk, list: Entry[], parent: Located, key: string, required: boolean): Entry | undefined {
  const e = list.find((x) => x.key === key);
  if (!e && required) w.issues.add(parent.at, child(parent.path, key), 'is required');
  return e;
}

/** A string scalar (non-empty), or report and return undefined. */
export function str(w: Walk, loc: Located): string | undefined {
  const node = loc.value;
  if (node && isScalar(node) && typeof node.value === 'string' && node.value.trim() !== '') return node.value;
  w.issues.add(loc.at, loc.path, `expected a non-empty string, got ${describe(node)}`);
  return undefined;
}

/** The items of a list, each located as `<path>[i]`; not a list → reported, undefined. */
export function items(w: Walk, loc: Located): Located[] | undefined {
  const node = loc.value;
  if (!node || !isSeq(node)) {
    w.issues.add(loc.at, loc.path, `expected a list, got ${describe(node)}`);
    return undefined;
  }
  return node.items.map((item, i) => {
    const value = deref(w, item as ParsedNode | null);
    return { value, path: `${loc.path}[${i}]`, at: value?.range?.[0] ?? loc.at };
  });
}

/**
 * A non-empty list of distinct strings, each checked by `check` (which returns an error message or
 * undefined). Returns the strings that passed.
 */
export function stringList(w: Walk, loc: Located, check: (s: string) => string | undefined): string[] | undefined {
  const list = items(w, loc);
  if (!list) return undefined;
  if (list.length === 0) {
    w.issues.add(loc.at, loc.path, 'must not be empty');
    return undefined;
  }
  const seen = new Map<string, number>();
  const out: string[] = [];
  list.forEach((item, i) => {
    const s = str(w, item);
    if (s === undefined) return;
    const dup = seen.get(s);
    if (dup !== undefined) {
      w.issues.add(item.at, item.path, `duplicate "${s}" (already at ${loc.path}[${dup}])`);
      return;
    }
    seen.set(s, i);
    const problem = check(s);
    if (problem) w.issues.add(item.at, item.path, problem);
    else out.push(s);
  });
  return out;
}

/** A check for {@link stringList}: `s` must be one of `allowed`. */
export function oneOf(what: string, allowed: readonly string[]): (s: string) => string | undefined {
  return (s) => {
    if (allowed.includes(s)) return undefined;
    const hint = closest(s, allowed);
    return `unknown ${what} "${s}" (expected one of ${allowed.join(', ')}${hint ? `; did you mean "${hint}"?` : ''})`;
  };
}
