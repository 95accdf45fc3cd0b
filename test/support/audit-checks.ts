/**
 * Signed registry checks published on the audited request subject, and what the audit ledger says of them: the
 * requests recorded (one `query` entry each) and those counted in `queries-missed` entries. The audit's promise
 * (issue 16): recorded + counted = sent, per requester.
 */
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import { sha256, type Entry, type QueriesMissedEntry, type QueryEntry } from '../../services/audit/index.ts';
import type { LiaisonClient } from '../../services/sdk/client/client.ts';
import { serviceSubject } from '../../services/sdk/subjects.ts';

/** One signed DocumentCheckRequest, ready to publish. */
export interface SignedCheck {
  subject: string;
  data: Uint8Array;
  headers: MsgHdrs;
  /** The envelope digest the audit records. */
  digest: string;
}

/** The service the checks ask, as a `queries-missed` entry names it. */
export const CHECK_SERVICE = 'documents.DocumentCheckRequest';

/** Seal check number `i` of `agency` (to xc-ncb), as its client would send it. */
export function sealCheck(c: LiaisonClient, agency: string, i: number): SignedCheck {
  const copy = c.seal('DocumentCheckRequest', { documentNumber: `XA${String(i).padStart(7, '0')}`, issuingCountry: 'XAA' }, { to: 'xc-ncb' }).copies[0]!;
  const headers = natsHeaders();
  for (const [k, v] of Object.entries(copy.headers)) headers.set(k, v);
  return { subject: serviceSubject('documents', 'DocumentCheckRequest', agency), data: copy.data, headers, digest: sha256(copy.data) };
}

/** Publish a sealed check on `c`'s connection (core NATS: nobody need answer). */
export function publishCheck(c: LiaisonClient, check: SignedCheck): void {
  c.nc.publish(check.subject, check.data, { headers: check.headers });
}

/** What the ledger `entries` say of `agency`'s checks. */
export interface CheckTally {
  /** Digests of the checks recorded (one per `query` entry). */
  recorded: string[];
  /** Checks counted in `queries-missed` entries. */
  counted: number;
  /** The reasons those entries give. */
  reasons: string[];
}

/** Tally `agency`'s checks in the ledger. */
export function tallyChecks(entries: Entry[], agency: string): CheckTally {
  const recorded = entries.filter((e): e is QueryEntry => e.kind === 'query' && e.requester === agency).map((e) => e.digest);
  const missed = entries.filter((e): e is QueriesMissedEntry => e.kind === 'queries-missed');
  const mine = missed.flatMap((m) => m.missed).filter((m) => m.requester === agency && m.service === CHECK_SERVICE);
  const reasons = [...new Set(missed.filter((m) => m.missed.some((x) => x.requester === agency)).flatMap((m) => m.reasons))].sort();
  return { recorded, counted: mine.reduce((n, m) => n + m.count, 0), reasons };
}

/** Wait until `pred` holds, checking every 20 ms, at most `ms`; throw naming `what` when it never does. */
export async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
