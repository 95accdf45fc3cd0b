/**
 * Signed registry checks published on the audited request subject, and what the audit ledger says of them: the
 * requests recorded (one `query` entry each) and those counted in `queries-missed` entries. The audit's promise
 * (issue 16): recorded + counted = sent, per requester.
 */
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import { pino } from 'pino';
import { sha256, startAuditService, type AuditService, type Entry, type QueriesMissedEntry, type QueryEntry } from '../../services/audit/index.ts';
import type { LiaisonClient } from '../../services/sdk/client/client.ts';
import { typeCatalogOf } from '../../services/sdk/client/type-catalog.ts';
import { serviceSubject } from '../../services/sdk/subjects.ts';
import { createTestFederation, type TestFederation } from './federation.ts';

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

/** One line the replaced audit logged. */
export interface LoggedLine {
  level: number;
  msg: string;
  code?: string;
}

/**
 * A federation named `name` enrolling `agencies` and xc-ncb (the checks' recipient), its exchange's audit replaced by
 * one whose log lines land in `logged` (crypto on `cryptoWorkers` threads), each agency's client put in `clients`.
 * `attach`: the exchange stops the new audit with itself (else the test does).
 */
export async function federationWithOwnAudit(o: {
  name: string;
  agencies: readonly string[];
  cryptoWorkers: number;
  attach: boolean;
  logged: LoggedLine[];
  clients: Partial<Record<string, LiaisonClient>>;
}): Promise<{ fed: TestFederation; audit: AuditService }> {
  const fed = await createTestFederation({ agencies: [...o.agencies, 'xc-ncb'], name: o.name });
  await fed.exchange.audit!.stop();
  fed.exchange.audit = undefined;
  const logger = pino({ level: 'info' }, { write: (line: string) => void o.logged.push(JSON.parse(line) as LoggedLine) });
  const audit = await startAuditService({ nc: fed.exchange.admin, trustDir: fed.trustDir, policy: () => fed.exchange.policy, catalog: typeCatalogOf(fed.catalog), logger, cryptoWorkers: o.cryptoWorkers });
  if (o.attach) fed.exchange.audit = audit;
  for (const a of o.agencies) o.clients[a] = await fed.connect(a);
  return { fed, audit };
}

/** Wait until `pred` holds, at most `ms`; throw naming `what` when it never does. */
export { until } from './workflows.ts';
