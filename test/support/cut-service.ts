/**
 * A service's client connected through a {@link CutLink}, with what its log says failed: the set-up the
 * connection-cut tests of the case registry and the centre share (issue 16: record writes across a drop).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { pino, type Logger } from 'pino';
import { expect } from 'vitest';
import { isLiaisonError } from '../../services/sdk/errors.ts';
import { LiaisonClient } from '../../services/sdk/client/client.ts';
import { inboxPrefix } from '../../services/sdk/subjects.ts';
import { startCutLink, type CutLink } from './cut-link.ts';
import type { TestFederation } from './federation.ts';
import { until } from './workflows.ts';

/** A client behind a cut link, its logger, and the failures its log reported. */
export interface ClientThroughCut {
  link: CutLink;
  client: LiaisonClient;
  /** Give this to the service: its failures land in {@link failures}. */
  logger: Logger;
  /** The message of every error the log reported, in order. */
  failures: string[];
  /** How many times the client reconnected so far. */
  reconnects(): number;
  /** Writes to KV bucket `bucket` among the failures: failed as the connection dropped, by their timeout. */
  bucketWrites(bucket: string): { all: string[]; lost: number; timedOut: string[] };
  /** The failures not in `excluded`, as "what failed: why ×count" (ids and ports blanked), for a test's summary line. */
  otherFailures(excluded: readonly string[]): string[];
}

/**
 * A plain nats.js connection of `agency` of `fed` (its own creds, TLS and inbox) through a new cut link, reconnecting
 * at once (every 100 ms, for ever): for tests of the SDK's parts below the client (the handled record).
 */
export async function rawAgencyThroughCut(fed: TestFederation, agency: string): Promise<{ link: CutLink; nc: NatsConnection }> {
  const dir = fed.agencyDirs[agency]!;
  const link = await startCutLink(fed.server.url);
  const nc = await connect({
    servers: link.url,
    tls: { ca: await readFile(join(dir, 'ca.pem'), 'utf8') },
    authenticator: credsAuthenticator(new Uint8Array(await readFile(join(dir, 'nats.creds')))),
    inboxPrefix: inboxPrefix(agency),
    reconnectTimeWait: 100,
    maxReconnectAttempts: -1,
  });
  return { link, nc };
}

/** Connect `agency` of `fed` through a new cut link (reconnect wait 100 ms), logging at debug into {@link ClientThroughCut.failures}. */
export async function connectThroughCut(fed: TestFederation, agency: string): Promise<ClientThroughCut> {
  const link = await startCutLink(fed.server.url);
  const failures: string[] = [];
  /** The log line (what failed) of each failure message. */
  const failedWork = new Map<string, string>();
  const logger = pino(
    { level: 'debug' },
    {
      write: (line: string) => {
        const entry = JSON.parse(line) as { msg: string; err?: string | { message?: string } };
        const err = typeof entry.err === 'string' ? entry.err : entry.err?.message;
        if (!err) return;
        failures.push(err);
        failedWork.set(err, entry.msg);
      },
    },
  );
  const client = await LiaisonClient.connect({ agencyDir: fed.agencyDirs[agency]!, catalog: fed.catalog, servers: [link.url], reconnectWaitMs: 100, logger });
  let reconnects = 0;
  void (async () => {
    for await (const s of client.nc.status()) if (s.type === 'reconnect') reconnects++;
  })();
  return {
    link,
    client,
    logger,
    failures,
    reconnects: () => reconnects,
    bucketWrites(bucket) {
      const all = failures.filter((e) => e.includes(`$KV.${bucket}.`));
      return { all, lost: all.filter((e) => e.startsWith('connection lost')).length, timedOut: all.filter((e) => e.startsWith('no acknowledgement from the exchange')) };
    },
    otherFailures(excluded) {
      const lines = failures.filter((e) => !excluded.includes(e)).map((e) => `${failedWork.get(e)}: ${e.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '…').replace(/\(127\.0\.0\.1:\d+\)/, '(…)')}`);
      return [...Map.groupBy(lines, (l) => l)].map(([l, all]) => `${l} ×${all.length}`);
    },
  };
}

/** Call `arm` right after the connection's next publish to a subject containing `marker` (the publish itself unchanged). */
export function cutAfterNextWrite(client: LiaisonClient, marker: string, arm: () => void): void {
  armAfterPublish(client.nc, (subject) => subject.includes(marker), 1, arm);
}

/** How a promise ended: its value, or its error's code (`untyped` for an error that is no LiaisonError) and message. */
export async function outcome<T>(p: Promise<T>): Promise<{ ok: T } | { code: string; message: string }> {
  try {
    return { ok: await p };
  } catch (err) {
    return { code: isLiaisonError(err) ? err.code : 'untyped', message: (err as Error).message };
  }
}

/** Call `arm` right after `nc`'s `nth` publish to a subject `matches` accepts (the publishes themselves unchanged). */
export function armAfterPublish(nc: NatsConnection, matches: (subject: string) => boolean, nth: number, arm: () => void): void {
  const publish = nc.publish.bind(nc);
  let seen = 0;
  nc.publish = (subject, ...rest) => {
    publish(subject, ...rest);
    if (matches(subject) && ++seen === nth) {
      nc.publish = publish;
      arm();
    }
  };
}

/**
 * Cut `link` right after `nc`'s `nth` publish `matches` accepts, made by `first` (the next bytes the server sends, most
 * likely its answer, dropped); reconnects are refused until `whileDown` (asked for while the connection is down) has
 * been called and three reconnects were refused. How `first` and `whileDown` ended, and when the cut came.
 */
export async function cutAround<A, B>(
  through: { link: CutLink; nc: NatsConnection },
  matches: (subject: string) => boolean,
  first: () => Promise<A>,
  whileDown: () => Promise<B>,
  nth = 1,
): Promise<{ cut: { ok: A } | { code: string; message: string }; held: { ok: B } | { code: string; message: string }; cutAt: number; failedAt: number }> {
  const { link, nc } = through;
  const refusedBefore = link.refused();
  link.refuse(true);
  armAfterPublish(nc, matches, nth, () => link.armCut(1));
  let failedAt = 0;
  const cut = outcome(first()).finally(() => (failedAt = Date.now()));
  const cutAt = await Promise.race([link.cut.then(() => Date.now()), new Promise<number>((r) => setTimeout(() => r(0), 30_000))]);
  expect(cutAt, 'the connection was cut after the publish').toBeGreaterThan(0);
  await until(() => nc.isClosed() || link.refused() > refusedBefore, 20_000, 'a reconnect refused');
  const held = outcome(whileDown());
  await until(() => link.refused() >= refusedBefore + 3, 20_000, 'reconnects refused while the second call is held');
  link.refuse(false);
  return { cut: await cut, held: await held, cutAt, failedAt };
}
