import { basename } from 'node:path';
import { fieldCatalogOf } from '../sdk/policy/access.ts';
import { diffPolicies, type PolicyDiff } from '../sdk/policy/diff.ts';
import { parsePolicy, type Policy } from '../sdk/policy/index.ts';
import { loadCatalog } from '../sdk/schema/index.ts';
import type { ComparisonVerdict } from '../simulator/events.ts';

/** One change in what an agency receives (a row of `policy diff` for the agency). */
export interface ReceiveRow {
  type: string;
  scope: string;
  /** Ceiling tier before and after ('nothing': not received). */
  before: string;
  after: string;
  gained: string[];
  lost: string[];
}

/** What one agency gains and loses under the draft. */
export interface AgencyChanges {
  agency: string;
  name: string;
  /** The agency is new in the draft, or gone from it. */
  added: boolean;
  removed: boolean;
  rolesAdded: string[];
  rolesRemoved: string[];
  receive: ReceiveRow[];
  /** Send and serve rights gained or lost, e.g. `may now send CaseReferral`. */
  rights: string[];
}

/** The console's what-if: the draft's per-agency gains and losses, and (once replayed) the comparison of the two runs. */
export interface WhatIf {
  base: { name: string; hash: string; file: string };
  draft: { name: string; hash: string; file: string };
  same: boolean;
  agencies: AgencyChanges[];
  /** 'diffed': the policies compared; 'replaying': the scenario runs under the draft; 'done' or 'failed'. */
  status: 'diffed' | 'replaying' | 'done' | 'failed';
  comparison?: ComparisonVerdict;
  error?: string;
}

const fields = () => fieldCatalogOf(loadCatalog());

/** Parse a draft policy's text (ERR_POLICY_INVALID names file, line and key). */
export function parseDraft(text: string, file: string): Policy {
  return parsePolicy(text, { file, catalog: fields() });
}

/** The per-agency view of a policy diff. */
export function agencyChanges(d: PolicyDiff, base: Policy, draft: Policy): AgencyChanges[] {
  const ids = [...new Set([...Object.keys(base.agencies), ...Object.keys(draft.agencies)])];
  const out: AgencyChanges[] = [];
  for (const id of ids) {
    const receive = d.receive.filter((c) => c.subject === 'agency' && c.name === id).map((c) => ({ type: c.type, scope: c.scope, before: c.before ?? 'nothing', after: c.after ?? 'nothing', gained: c.gained, lost: c.lost }));
    const rights = [...d.send.map((s) => ({ ...s, verb: 'send' })), ...d.serve.map((s) => ({ ...s, verb: 'serve' }))]
      .filter((s) => s.subject === 'agency' && s.name === id)
      .map((s) => `${s.change === 'gained' ? 'may now' : 'may no longer'} ${s.verb} ${s.type}`);
    const roles = d.agencies.roles.find((r) => r.agency === id);
    const added = d.agencies.added.includes(id);
    const removed = d.agencies.removed.includes(id);
    if (!receive.length && !rights.length && !roles && !added && !removed) continue;
    out.push({ agency: id, name: (draft.agencies[id] ?? base.agencies[id])!.name, added, removed, rolesAdded: roles?.added ?? [], rolesRemoved: roles?.removed ?? [], receive, rights });
  }
  return out;
}

/** Compare a draft with the scenario's policy: what each agency gains and loses (the same diff as `liaison policy diff`). */
export function diffDraft(base: Policy, draft: Policy): WhatIf {
  const d = diffPolicies(base, draft, fields());
  const about = (p: Policy) => ({ name: p.name, hash: p.hash, file: basename(p.source.file ?? 'draft.yaml') });
  return { base: about(base), draft: about(draft), same: d.same, agencies: agencyChanges(d, base, draft), status: 'diffed' };
}
