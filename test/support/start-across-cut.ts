/**
 * A service's start across a connection cut (issue 16): the set-up the start-up migration tests share (the centre's
 * facts, the case registry's aliases). The service's client runs through a cut link cut right after the nth publish
 * the test picks (its answer dropped), reconnects refused until three were; then let through.
 */
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { afterAll, beforeAll, expect } from 'vitest';
import { agencyJetStream } from '../../services/sdk/client/agency-js.ts';
import type { LiaisonClient } from '../../services/sdk/client/client.ts';
import { agencyBuckets } from '../../services/sdk/policy/index.ts';
import { KvReader } from '../../services/sdk/state/kv-reader.ts';
import type { CutLink } from './cut-link.ts';
import { armAfterPublish, connectThroughCut, outcome } from './cut-service.ts';
import { createTestFederation, type TestFederation } from './federation.ts';
import { until } from './workflows.ts';

/** How a start across a cut ended, and how long after the reconnects were let through. */
export interface StartAcrossCut {
  start: 'started' | { code: string; message: string };
  afterReconnectMs: number;
}

/** Which publish of a connection the link is cut right after: the `nth` that `matches` accepts. */
export interface CutAt {
  matches: (subject: string) => boolean;
  nth: number;
}

/**
 * Run `work` with `link` cut right after `nc`'s publish `at` names (the next bytes the server sends dropped),
 * reconnects refused until three were, then let through; how `work` ended, and how long after the let-through.
 */
export async function runAcrossCut<T>(link: CutLink, nc: NatsConnection, at: CutAt, work: () => Promise<T>): Promise<{ result: { ok: T } | { code: string; message: string }; afterReconnectMs: number }> {
  const refusedBefore = link.refused();
  link.refuse(true);
  armAfterPublish(nc, at.matches, at.nth, () => link.armCut(1));
  let endedAt = 0;
  const running = outcome(work()).finally(() => (endedAt = Date.now()));
  const cutAt = await Promise.race([link.cut.then(() => Date.now()), new Promise<number>((r) => setTimeout(() => r(0), 30_000))]);
  expect(cutAt, 'the connection was cut part-way through the work').toBeGreaterThan(0);
  await until(() => link.refused() >= refusedBefore + 3, 20_000, 'three reconnects refused');
  link.refuse(false);
  const letThroughAt = Date.now();
  await until(() => endedAt > 0, 60_000, 'the work to end');
  return { result: await running, afterReconnectMs: endedAt - letThroughAt };
}

/**
 * Start a service of `agency` (`start`, given the client behind the cut link and its logger) with the link cut right
 * after the client's publish `at` names, reconnects refused until three were ({@link runAcrossCut}); how the start
 * ended (the started service is stopped, the client closed, the link stopped before this returns). `tag` prefixes the
 * log line.
 */
export async function startAcrossCut(
  fed: TestFederation,
  agency: string,
  tag: string,
  at: CutAt,
  start: (client: LiaisonClient, logger: Logger) => Promise<{ stop(): Promise<void> }>,
): Promise<StartAcrossCut> {
  const { client, link, logger, failures } = await connectThroughCut(fed, agency);
  let started: { stop(): Promise<void> } | undefined;
  try {
    const { result: r, afterReconnectMs } = await runAcrossCut(link, client.nc, at, async () => await start(client, logger));
    if ('ok' in r) started = r.ok;
    console.info(`[${tag}] start ${'ok' in r ? 'succeeded' : JSON.stringify(r)} ${afterReconnectMs} ms after reconnects were let through; logged failures: ${failures.length}`);
    return { start: 'ok' in r ? 'started' : r, afterReconnectMs };
  } finally {
    await started?.stop();
    await client.close();
    await link.stop();
  }
}

/** Whether `key` of the agency's KV bucket `bucket` holds a value now (read by direct get, as the agency may). */
export async function agencyHolds(nc: NatsConnection, bucket: string): Promise<(key: string) => Promise<boolean>> {
  const reader = await KvReader.open(nc, bucket);
  return async (key) => (await reader.get(key)) !== undefined;
}

/** Where entries moved by a migration sit now (`holds`: whether a key holds a value): how many at their new key, how many still at their old one. */
export async function whereNow(holds: (key: string) => Promise<boolean>, moves: readonly { from: string; to: string }[]): Promise<{ moved: number; old: number }> {
  let moved = 0;
  let old = 0;
  for (const { from, to } of moves) {
    if (await holds(to)) moved++;
    if (await holds(from)) old++;
  }
  return { moved, old };
}

/** A suite's federation of one agency, a client of it that seeds old entries, and the agency's KV bucket to migrate. */
export interface MigrationSuite {
  fed(): TestFederation;
  /** The agency's client (not through any cut link): it seeds and checks. */
  seeder(): LiaisonClient;
  /** The name of the bucket under the policy. */
  bucket(): string;
  /** The bucket through the agency's own JetStream, to write old-format entries. */
  kv(): Promise<KV>;
}

/**
 * Register the suite's set-up and tear-down (call inside `describe`): a federation `name` of `agency` (policy
 * `policyText` when given), its client, and its KV bucket `kvName` (as the policy names it, e.g. `cases`).
 */
export function migrationSuite(o: { agency: string; name: string; kvName: string; policyText?: () => Promise<string> }): MigrationSuite {
  let fed: TestFederation | undefined;
  let seeder: LiaisonClient | undefined;
  let bucket = '';
  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [o.agency], name: o.name, ...(o.policyText ? { policyText: await o.policyText() } : {}) });
    seeder = await fed.connect(o.agency);
    bucket = agencyBuckets(seeder.policy, o.agency).find((b) => b.kind === 'kv' && b.name === o.kvName)!.bucket;
  }, 60_000);
  afterAll(async () => {
    await seeder?.close();
    await fed?.stop();
  });
  return {
    fed: () => fed!,
    seeder: () => seeder!,
    bucket: () => bucket,
    kv: async () => await new Kvm(agencyJetStream(seeder!.nc)).open(bucket, { allow_direct: true }),
  };
}
