/**
 * Reading the audit ledger (`liaison audit verify`, `audit query`: readLedger) while a node of a three-node exchange is
 * down (issue 16). readLedger reads through an ordered consumer, an R1 consumer nats-server 2.9.10 places on any of
 * the ledger stream's peers, the dead node's too (about one create in three, long after the kill): that create goes
 * unanswered, and the read failed after nats.js's 5 s timeout. Real nats-server processes, bounded in time.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEDGER_STREAM } from '../services/audit/entry.ts';
import { readLedger } from '../services/audit/index.ts';
import { createClusterFederation, examplePolicyFor, type ClusterFederation } from './support/cluster-federation.ts';

const AGENCIES = ['xa-border-police', 'mac-centre'];

/** Reads made with a node down ((2/3)^8 ≈ 4 % that none of 8 creates lands on the dead node). */
const READS = 8;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the audit ledger is read while a cluster node is down (issue 16)', () => {
  let fed: ClusterFederation;

  beforeAll(async () => {
    fed = await createClusterFederation({ agencies: AGENCIES, name: 'audit-read-down', policyText: await examplePolicyFor(AGENCIES) });
  }, 240_000);
  afterAll(async () => {
    await fed?.stop();
  }, 60_000);

  /** Until the ledger stream answers by name again (the survivors elected its leader). */
  async function ledgerAnswers(timeoutMs = 60_000): Promise<number> {
    const jsm = await jetstreamManager(fed.exchange.admin, { timeout: 2_000, checkAPI: false });
    const t0 = Date.now();
    for (;;) {
      const info = await jsm.streams.info(LEDGER_STREAM).catch(() => undefined);
      if (info && info.state.messages > 0) return info.state.last_seq;
      if (Date.now() - t0 > timeoutMs) throw new Error(`the ledger stream still unanswered ${timeoutMs} ms after the kill`);
      await sleep(250);
    }
  }

  it('readLedger succeeds every time with a node SIGKILLed: an unanswered create of its reader is made again', async () => {
    const before = await readLedger(fed.exchange.admin);
    expect(before.length).toBeGreaterThan(0);
    const leader = await fed.cluster.metaLeader();
    const victim = fed.cluster.nodes.find((n) => n.index !== leader)!.index;
    await fed.cluster.kill(victim);
    const last = await ledgerAnswers();
    const failed: string[] = [];
    const ms: number[] = [];
    for (let i = 0; i < READS; i++) {
      const t0 = Date.now();
      await readLedger(fed.exchange.admin)
        .then((entries) => {
          // Every entry stored up to the chain end at the kill (the exchange's audit may append more meanwhile).
          if ((entries.at(-1)?.seq ?? 0) < last) failed.push(`read ${i}: ends at ${entries.at(-1)?.seq}, ledger at ${last}`);
        })
        .catch((err: unknown) => void failed.push(`read ${i}: ${(err as Error).message}`));
      ms.push(Date.now() - t0);
    }
    console.info(`[cluster-audit-read] node ${victim} down: ${READS} reads in ${ms.join(', ')} ms`);
    expect(failed).toEqual([]);
  }, 600_000);
});
