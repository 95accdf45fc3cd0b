import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ListedCopy, QuarantinedCopy } from '../sdk/client/quarantine-entry.ts';
import type { Logger } from '../sdk/logging.ts';
import { QUARANTINE_SERVICE_SUBJECTS } from '../sdk/subjects.ts';
import { readQuarantine } from './quarantine-read.ts';
import type { ExchangeServiceHost } from './service-host.ts';

/** A listing request: entries after quarantine sequence `after` (default 0), waiting ones only unless `replayed`. */
export interface QuarantineListRequest {
  after?: number;
  replayed?: boolean;
}

/** The answer: one page of entries (oldest first), `more` when another page follows, or an error. */
export type QuarantineListReply = { ok: true; entries: ListedCopy[]; more: boolean } | { ok: false; error: string };

/** Entries per answer (each at most ~1 kB: the reason is cut at 512 characters), far below the 1 MB payload limit. */
export const QUARANTINE_PAGE = 200;

function parseRequest(text: string): QuarantineListRequest {
  if (text.trim() === '') return {};
  const req = JSON.parse(text) as QuarantineListRequest;
  if (!req || typeof req !== 'object') throw new Error('not an object');
  if (req.after !== undefined && (!Number.isSafeInteger(req.after) || req.after < 0)) throw new Error('after must be a non-negative integer');
  return req;
}

/** Whether the original of each entry is still on its stream (retention, retraction and purges remove originals). */
async function markAvailable(nc: NatsConnection, copies: QuarantinedCopy[]): Promise<ListedCopy[]> {
  const jsm = await jetstreamManager(nc);
  return await Promise.all(
    copies.map(async (c): Promise<ListedCopy> => {
      if (!c.from || c.replayed) return c;
      const m = await jsm.streams.getMessage(c.from.stream, { seq: c.from.streamSeq }).catch(() => undefined);
      return { ...c, available: m !== undefined && m !== null && m.subject === c.originalSubject };
    }),
  );
}

/**
 * The exchange's quarantine listing service. An agency asks on its own `liaison.v1.svc.exchange.quarantine.<agency>`
 * subject — which only it may publish on — and gets the entries of its own quarantine only (read on the
 * administrator's connection `nc`), with whether each original can still be re-delivered. Its answer goes out
 * through the services host, inside the agency's own inbox.
 */
export function startQuarantineService(o: { nc: NatsConnection; host: ExchangeServiceHost; logger?: Logger }): void {
  o.host.listen('quarantine', QUARANTINE_SERVICE_SUBJECTS, async (msg, agency) => {
    const reply = await (async (): Promise<QuarantineListReply> => {
      let req: QuarantineListRequest;
      try {
        req = parseRequest(msg.string());
      } catch (e) {
        return { ok: false, error: `ERR_BODY_INVALID: quarantine request is not {"after"?: seq, "replayed"?: bool}: ${(e as Error).message}` };
      }
      const all = (await readQuarantine(o.nc, agency)).filter((c) => c.seq > (req.after ?? 0) && (req.replayed || !c.replayed));
      const page = all.slice(0, QUARANTINE_PAGE);
      return { ok: true, entries: await markAvailable(o.nc, page), more: all.length > page.length };
    })().catch((e: unknown): QuarantineListReply => ({ ok: false, error: `ERR_EXCHANGE: ${(e as Error).message}` }));
    return { data: JSON.stringify(reply) };
  });
}
