import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { LiaisonError } from '../errors.ts';
import { policyHash } from './policy-hash.ts';
import { IssueList, type PolicyIssue } from './issues.ts';
import type { Policy, TypeCatalog } from './model.ts';
import { validatePolicy } from './validate.ts';

/** Options of {@link parsePolicy}. */
export interface ParsePolicyOptions {
  /** File name used in error locations (`policy.yaml:14:9`). */
  file?: string;
  /** The message catalogue types are checked against. */
  catalog: TypeCatalog;
}

/**
 * Parse and validate a policy. Every problem is collected; when there is any, throws one
 * `ERR_POLICY_INVALID` whose message lists them all (the first in the headline) and whose details
 * hold `file`, `line`, `column`, `key` of the first and `errors` (every {@link PolicyIssue}).
 */
export function parsePolicy(text: string, opts: ParsePolicyOptions): Policy {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const issues = new IssueList(opts.file, lineCounter);
  for (const err of doc.errors) issues.add(err.pos[0], '', `YAML syntax error: ${err.message.split('\n')[0]}`);
  const body = doc.errors.length === 0 ? validatePolicy({ doc, issues }, opts.catalog) : undefined;
  if (issues.items.length > 0 || !body) throw policyInvalid(issues.items);
  return { ...body, hash: policyHash(text), source: { ...(opts.file !== undefined ? { file: opts.file } : {}), text } };
}

/** Read and parse a policy file (errors are located in `path`). */
export async function loadPolicyFile(path: string, catalog: TypeCatalog): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new LiaisonError('ERR_POLICY_INVALID', `${path}: cannot read the policy file (${(err as Error).message})`, { file: path }, { cause: err });
  }
  return parsePolicy(text, { file: path, catalog });
}


function policyInvalid(errors: PolicyIssue[]): LiaisonError {
  const first = errors[0]!;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? 's' : ''})` : '';
  const message = [first.text + more, ...errors.slice(1).map((e) => `  ${e.text}`)].join('\n');
  return new LiaisonError('ERR_POLICY_INVALID', message, {
    ...(first.file !== undefined ? { file: first.file } : {}),
    line: first.line,
    column: first.column,
    key: first.key,
    errors,
  });
}
