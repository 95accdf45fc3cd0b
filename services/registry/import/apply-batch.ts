/**
 * The registry side of the bulk upload: apply each DocumentReport of a DocumentReportBatch with the same rules as
 * a single report, and refuse the bad records by their source line, grouped per batch (one signed RegistryRefusal
 * per refusal code, naming every refused line), so a file of wrong records does not answer with one message each.
 *
 * @module
 */
import type { ReceivedMessage } from '../../sdk/envelope/open.ts';

/** Refuses a message with a stable code and a human-readable reason (the service's signed RegistryRefusal). */
export type Refuser = (msg: ReceivedMessage, code: string, reason: string) => Promise<void>;

/** Applies one report; calls `refuse` (instead of sending anything) when the record is refused. */
export type ApplyReport = (report: Record<string, unknown>, refuse: Refuser) => Promise<void> | void;

/** Refused lines listed with their reason in one refusal; the rest are listed by line number only. */
export const DETAILED_REFUSALS = 100;

/** The source line of `reports[index]` of a batch body (`lines[index]`, else `first_line + index`), or 0 if unknown. */
export function batchLine(body: Record<string, unknown>, index: number): number {
  const lines = body.lines;
  if (Array.isArray(lines) && lines.length > index) return Number(lines[index]);
  const first = Number(body.firstLine ?? 0);
  return first > 0 ? first + index : 0;
}

/** What applying a batch did. */
export interface BatchOutcome {
  /** Reports in the batch. */
  records: number;
  /** Records refused (each named in a refusal). */
  refused: number;
}

/**
 * Apply every report of a DocumentReportBatch in order through `apply` (the single-report rules). A record the
 * rules refuse does not stop the batch; after the batch, one RegistryRefusal per code goes to the sender through
 * `refuse`, its reason naming each refused line (`line 17: only an agency of XBB may …`).
 */
export async function applyDocumentBatch(msg: ReceivedMessage, apply: ApplyReport, refuse: Refuser): Promise<BatchOutcome> {
  const reports = Array.isArray(msg.body.reports) ? (msg.body.reports as Record<string, unknown>[]) : [];
  const refusals = new Map<string, string[]>();
  let refused = 0;
  for (let i = 0; i < reports.length; i++) {
    let recordRefused = false;
    const refuseRecord: Refuser = (_m, code, reason) => {
      recordRefused = true;
      const line = batchLine(msg.body, i);
      const where = line > 0 ? `line ${line}` : `report ${i + 1}`;
      let list = refusals.get(code);
      if (!list) refusals.set(code, (list = []));
      list.push(`${where}: ${reason}`);
      return Promise.resolve();
    };
    const pending = apply(reports[i]!, refuseRecord);
    if (pending) await pending;
    if (recordRefused) refused++;
  }
  const source = msg.body.source ? ` of ${String(msg.body.source)}` : '';
  for (const [code, items] of refusals) {
    const detailed = items.slice(0, DETAILED_REFUSALS);
    const more = items.slice(DETAILED_REFUSALS).map((s) => s.slice(0, s.indexOf(':')));
    const reason =
      `${items.length} of ${reports.length} records of batch ${msg.header.id}${source} refused: ${detailed.join('; ')}` +
      (more.length > 0 ? `; and ${more.length} more: ${more.join(', ')}` : '');
    await refuse(msg, code, reason);
  }
  return { records: reports.length, refused };
}
