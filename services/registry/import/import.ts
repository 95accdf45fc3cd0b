/**
 * Bulk upload of a national registry's export (issue 3): stream a CSV file, turn each row into a DocumentReport,
 * and send the good rows to the registry in signed DocumentReportBatch messages (one signature per batch), several
 * batches in flight at once. Bad rows are reported by line; the good ones still go in.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import type { LiaisonClient } from '../../sdk/client/client.ts';
import { isLiaisonError, LiaisonError } from '../../sdk/errors.ts';
import { agencyServes, type Policy } from '../../sdk/policy/index.ts';
import { readReportRows, type BadRow, type ReportRow } from './csv.ts';

/** What an import did. */
export interface ImportResult {
  /** Data rows read (the header not counted). */
  rows: number;
  /** Rows sent to the registry, in batches the exchange stored. */
  imported: number;
  /** Signed DocumentReportBatch messages sent. */
  batches: number;
  /** Rows that could not be imported, by file line, in file order. */
  bad: BadRow[];
  /** Wall time from opening the file to the last batch stored. */
  seconds: number;
  /** The agency the batches went to (the registry). */
  to: string;
  /** `batch_reference` of every batch of this import. */
  batchReference: string;
}

/** Options of {@link importCsv}. */
export interface ImportOptions {
  client: LiaisonClient;
  /** The CSV file (documented columns, header row; see `./csv.ts`). */
  file: string;
  /** Reports per batch (default 1 000); a batch over the exchange's max payload is split, never truncated. */
  batchSize?: number;
  /** The registry agency; default: the one agency the policy gives `serve: [DocumentCheckRequest]`. */
  to?: string;
  /** Batches in flight at once (default 8). */
  window?: number;
  /** The import's reference, carried by every batch (default: a fresh UUID). */
  batchReference?: string;
  /** Called after each batch the exchange stored (the CLI shows progress on a terminal). */
  onProgress?: (p: { imported: number; bad: number; batches: number }) => void;
}

/** Largest batch accepted by {@link importCsv}. */
export const MAX_BATCH_SIZE = 50_000;

/**
 * The agency that runs the registry: the one whose roles serve DocumentCheckRequest. Throws
 * `ERR_POLICY_NO_RECIPIENT` when none does, `ERR_USAGE` when several do (name one with `to`).
 */
export function registryAgency(policy: Policy): string {
  const serving = Object.keys(policy.agencies)
    .filter((a) => agencyServes(policy, a).includes('DocumentCheckRequest'))
    .sort();
  if (serving.length === 0) throw new LiaisonError('ERR_POLICY_NO_RECIPIENT', 'no agency of the policy serves DocumentCheckRequest (runs the registry)');
  if (serving.length > 1) {
    throw new LiaisonError('ERR_USAGE', `several agencies serve DocumentCheckRequest (${serving.join(', ')}): name the registry to import into`, { agencies: serving });
  }
  return serving[0]!;
}

/**
 * Import a CSV export into the registry. Rows are validated and normalised on the way (bad rows are reported
 * with their line, good rows still go in); good rows travel in DocumentReportBatch messages of `batchSize`
 * reports, `window` sends in flight. Resolves when every batch is stored by the exchange (the registry applies
 * them as it consumes, and refuses a record of another issuing country by its line in a signed RegistryRefusal).
 * Throws `ERR_BODY_INVALID` for a bad header (unknown columns named); a send that fails for any other reason than
 * its size stops the import with that error.
 */
export async function importCsv(o: ImportOptions): Promise<ImportResult> {
  const started = performance.now();
  const { client, file } = o;
  const batchSize = o.batchSize ?? 1_000;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
    throw new LiaisonError('ERR_USAGE', `batch size must be an integer from 1 to ${MAX_BATCH_SIZE}, got ${batchSize}`);
  }
  const window = Math.max(1, o.window ?? 8);
  const to = o.to ?? registryAgency(client.policy);
  const batchReference = o.batchReference ?? randomUUID();
  const source = basename(file);
  const bad: BadRow[] = [];
  let imported = 0;
  let batches = 0;
  let failure: unknown;
  const inFlight = new Set<Promise<void>>();

  const send = async (rows: ReportRow[]): Promise<void> => {
    const firstLine = rows[0]!.line;
    const consecutive = rows.every((r, i) => r.line === firstLine + i);
    const body = {
      reports: rows.map((r) => r.body),
      batchReference,
      firstLine,
      source,
      ...(consecutive ? {} : { lines: rows.map((r) => r.line) }),
    };
    try {
      await client.send('DocumentReportBatch', body, { to });
      imported += rows.length;
      batches++;
      o.onProgress?.({ imported, bad: bad.length, batches });
    } catch (err) {
      if (!(isLiaisonError(err) && err.code === 'ERR_MESSAGE_TOO_LARGE')) throw err;
      if (rows.length === 1) {
        bad.push({ line: firstLine, error: `the record alone exceeds the exchange's maximum payload (${err.message})` });
        return;
      }
      // Too large for one message: halve and send both halves (never truncate).
      const half = rows.length >> 1;
      await Promise.all([send(rows.slice(0, half)), send(rows.slice(half))]);
    }
  };

  const dispatch = async (rows: ReportRow[]): Promise<void> => {
    if (failure) return;
    const p: Promise<void> = send(rows).then(
      () => void inFlight.delete(p),
      (err: unknown) => {
        inFlight.delete(p);
        failure ??= err;
      },
    );
    inFlight.add(p);
    while (inFlight.size >= window) await Promise.race(inFlight);
  };

  let pending: ReportRow[] = [];
  const { rows } = await readReportRows(file, async (good, badRows) => {
    if (failure) throw failure;
    for (const b of badRows) bad.push(b);
    for (const r of good) {
      pending.push(r);
      if (pending.length === batchSize) {
        const full = pending;
        pending = [];
        await dispatch(full);
      }
    }
  }).catch(async (err: unknown) => {
    await Promise.allSettled(inFlight);
    throw err;
  });
  if (pending.length > 0) await dispatch(pending);
  await Promise.all(inFlight);
  if (failure) throw failure;
  bad.sort((a, b) => a.line - b.line);
  return { rows, imported, batches, bad, seconds: (performance.now() - started) / 1000, to, batchReference };
}
