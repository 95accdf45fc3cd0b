/** What the soak asks of one agency client process, and what that process reports back. */

/** A message type an agency offers, with its share of the agency's rate. */
export interface Offer {
  type: 'DocumentReport' | 'IntelligenceReport' | 'CaseReferral';
  /** Relative weight among the agency's offers. */
  weight: number;
  /** The recipient of a directed message (CaseReferral); broadcast when absent. */
  to?: string;
}

/** One phase of load: for `seconds`, messages at `rate`/s and document checks at `checkRate`/s from this agency. */
export interface PhasePlan {
  name: string;
  seconds: number;
  rate: number;
  checkRate: number;
}

/** The job of one agency client process (passed as JSON in argv). */
export interface AgencyJob {
  id: string;
  agencyDir: string;
  server: string;
  /** Issuing country of the documents it reports (¶16: only the issuing state reports its documents). */
  country: string;
  offers: Offer[];
  phases: PhasePlan[];
  /** Epoch ms at which the first phase starts (the same for every agency). */
  startAt: number;
  /** Where the process writes its {@link AgencyResult} when it is stopped (SIGTERM). */
  out: string;
  sampleEveryMs: number;
}

/** One message the agency sent: its id, type, when, and whether the exchange acknowledged it. */
export interface SentRecord {
  id: string;
  type: Offer['type'];
  at: number;
  acked: boolean;
}

/** A sample line an agency process prints on stdout as JSON (`{"soak":"sample",…}`). */
export interface AgencySample {
  soak: 'sample';
  id: string;
  t: number;
  phase: string;
  sent: number;
  sendFailed: number;
  received: number;
  /** End-to-end latency (created_at to this handler) of the copies handled since the last sample, ms. */
  e2e: number[];
  /** Document-check round trips since the last sample, ms. */
  checks: number[];
  checkFailed: number;
}

/** What an agency process writes on stop. */
export interface AgencyResult {
  id: string;
  sent: SentRecord[];
  /** Copies its handler saw of the tracked types, `sender id` → count. */
  received: Record<string, number>;
  receivedTypes: Record<string, string>;
  checks: { answered: number; failed: number; hits: number };
}

/** The types whose every copy the soak accounts for. */
export const TRACKED_TYPES: ReadonlySet<string> = new Set(['DocumentReport', 'IntelligenceReport', 'CaseReferral']);

/** The accounting key of a message: a message is (sender, id). */
export const keyOf = (sender: string, id: string): string => `${sender} ${id}`;
