/**
 * Quarantine made visible (issue 13): every quarantined copy is in the audit ledger with its reason code,
 * sender, id and delivery count; `liaison exchange status` and `liaison doctor` (`--dir`, and `--as` for the agency's own) count each agency's
 * quarantine by reason (in doubt, dead letter, other refusals), and doctor warns while dead letters wait —
 * until the agency replays them. Real nats-server, real federation, the real CLI commands.
 */
import { Kvm } from '@nats-io/kv';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEntry, readLedger, type QuarantineEntry } from '../services/audit/index.ts';
import { runCli } from '../services/cli/main.ts';
import type { Finding } from '../services/doctor/finding.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { QuarantineCounts } from '../services/sdk/client/quarantine-entry.ts';
import { replayQuarantined } from '../services/sdk/client/quarantine-replay.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { setConsumerLimits } from './support/consumer-limits.ts';
import { RawAgency } from './support/violations.ts';
import { until } from './support/workflows.ts';

const SENDER = 'xa-border-police';
const RECEIVER = 'mac-centre';
const TYPE = 'IntelligenceReport';
const MAX_DELIVER = 4;

const report = (summary: string) => ({ summary, migrantsCount: 1, assessment: 'quarantine status test' });

async function cli(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l), interrupted: new Promise(() => undefined) });
  return { code, out, err };
}

describe('quarantine counts in exchange status and doctor, quarantined copies in the audit ledger', () => {
  let fed: TestFederation;
  let police: LiaisonClient;
  let dir: string[];
  let poisonId: string;
  let doubtId: string;

  const statusCounts = async (): Promise<Record<string, QuarantineCounts>> => {
    const r = await cli(['exchange', 'status', ...dir, '--wait-ms', '200', '--json']);
    return (JSON.parse(r.out.join('')) as { quarantine: Record<string, QuarantineCounts> }).quarantine;
  };
  const doctorFinding = async (who: string[] = dir): Promise<Finding | undefined> => {
    const r = await cli(['doctor', ...who, '--json']);
    return (JSON.parse(r.out.join('')) as Finding[]).find((f) => f.check === 'quarantine');
  };
  const ledgerQuarantine = async (): Promise<QuarantineEntry[]> =>
    (await readLedger(fed.exchange.admin)).map((s) => decodeEntry(s.data)).filter((e): e is QuarantineEntry => e.kind === 'quarantine' && e.by === RECEIVER);

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [SENDER, RECEIVER], name: 'quarantine-status' });
    dir = ['--dir', fed.trustDir, '--server', fed.server.url];
    police = await fed.connect(SENDER);
    await setConsumerLimits(fed, RECEIVER, { ackWaitMs: 1_000, maxDeliver: MAX_DELIVER }, [TYPE]);

    // One of each reason: a dead letter (its handler always fails), an in-doubt copy (a claim left without
    // done), and a refusal before the handler (bytes that are no envelope, on the sender's own subject).
    const poison = await police.send(TYPE, report('poison'), { to: RECEIVER });
    const doubt = await police.send(TYPE, report('in doubt'), { to: RECEIVER });
    poisonId = poison.id;
    doubtId = doubt.id;
    await (await new Kvm(fed.exchange.admin).open(`${RECEIVER}_handled`)).create(`${SENDER}.${doubt.id}`, `claim ${Date.now()}`);
    const raw = await RawAgency.connect(fed.server.url, fed.agencyDirs[SENDER]!, SENDER);
    const h = natsHeaders();
    h.set('Nats-Msg-Id', `junk ${Date.now()}`);
    raw.nc.publish(police.seal(TYPE, report('junk'), { to: RECEIVER }).copies[0]!.subject, 'not an envelope', { headers: h });
    await raw.nc.flush();
    await raw.close();
    let broken = true;
    const receiver = await fed.connect(RECEIVER);
    await receiver.consume(
      (m) => {
        if (broken && m.header.id === poisonId) throw new Error('cannot take the poison message yet');
      },
      { types: [TYPE] },
    );
    try {
      await until(() => (receiver.stats.rejected.ERR_DEAD_LETTER ?? 0) === 1 && (receiver.stats.rejected.ERR_IN_DOUBT ?? 0) === 1 && Object.entries(receiver.stats.rejected).some(([code, n]) => code !== 'ERR_DEAD_LETTER' && code !== 'ERR_IN_DOUBT' && n === 1), 30_000, 'one quarantined copy of each reason');
    } finally {
      broken = false;
      await receiver.close();
    }
  }, 90_000);
  afterAll(async () => {
    await police?.close();
    await fed?.stop();
  });

  it('the audit ledger has each quarantined copy with its reason code, sender, id and delivery count', async () => {
    let entries: QuarantineEntry[] = [];
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && entries.length < 3) {
      entries = await ledgerQuarantine();
      await new Promise((r) => setTimeout(r, 200));
    }
    const dead = entries.find((e) => e.code === 'ERR_DEAD_LETTER');
    expect(dead).toMatchObject({ code: 'ERR_DEAD_LETTER', claimedSender: SENDER, id: poisonId, type: TYPE, deliveryCount: MAX_DELIVER - 1 });
    expect(dead?.reason).toContain('cannot take the poison message yet');
    expect(entries.find((e) => e.code === 'ERR_IN_DOUBT')).toMatchObject({ claimedSender: SENDER, id: doubtId, deliveryCount: 1 });
    expect(entries.find((e) => e.code !== 'ERR_DEAD_LETTER' && e.code !== 'ERR_IN_DOUBT')).toMatchObject({ claimedSender: SENDER, type: TYPE });
  }, 30_000);

  it('exchange status and doctor count the quarantine by reason; doctor warns while a dead letter waits, and stops once it is replayed (the replay audited)', async () => {
    expect((await statusCounts())[RECEIVER]).toEqual({ inDoubt: 1, deadLetter: 1, other: 1, replayed: 0 });
    const text = await cli(['exchange', 'status', ...dir, '--wait-ms', '200']);
    expect(text.out.join('\n')).toContain(`quarantine of ${RECEIVER}`);
    const before = await doctorFinding();
    expect(before?.status).toBe('warning');
    expect(before?.detail).toContain(`${RECEIVER}: 1 in doubt, 1 dead letters, 1 other refusals waiting`);
    expect((before?.data?.quarantine as Record<string, QuarantineCounts>)[RECEIVER]).toEqual({ inDoubt: 1, deadLetter: 1, other: 1, replayed: 0 });
    // The agency's own doctor (--as) lists its own quarantine with its own rights; the sender's shows nothing of it.
    const own = await doctorFinding(['--as', fed.agencyDirs[RECEIVER]!, '--server', fed.server.url]);
    expect(own?.status).toBe('warning');
    expect(own?.data?.quarantine).toEqual({ [RECEIVER]: { inDoubt: 1, deadLetter: 1, other: 1, replayed: 0 } });
    const sender = await doctorFinding(['--as', fed.agencyDirs[SENDER]!, '--server', fed.server.url]);
    expect(sender).toMatchObject({ status: 'ok', data: { quarantine: {} } });

    const centre = await fed.connect(RECEIVER);
    try {
      const r = await replayQuarantined(centre, { all: true, code: 'ERR_DEAD_LETTER' });
      expect(r.replayed.map((e) => e.id)).toEqual([poisonId]);
    } finally {
      await centre.close();
    }
    expect((await statusCounts())[RECEIVER]).toEqual({ inDoubt: 1, deadLetter: 0, other: 1, replayed: 1 });
    const after = await doctorFinding();
    expect(after?.status).toBe('ok');
    expect((after?.data?.quarantine as Record<string, QuarantineCounts>)[RECEIVER]).toEqual({ inDoubt: 1, deadLetter: 0, other: 1, replayed: 1 });
    expect((await doctorFinding(['--as', fed.agencyDirs[RECEIVER]!, '--server', fed.server.url]))?.status).toBe('ok');
    // The operator's decision is in the ledger too, naming the entry it replayed.
    let marker: QuarantineEntry | undefined;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !marker) {
      marker = (await ledgerQuarantine()).find((e) => e.code === 'REPLAYED');
      if (!marker) await new Promise((r) => setTimeout(r, 200));
    }
    const dead = (await ledgerQuarantine()).find((e) => e.code === 'ERR_DEAD_LETTER');
    expect(marker).toMatchObject({ code: 'REPLAYED', claimedSender: SENDER, id: poisonId, replayOf: dead?.seq });
  }, 60_000);
});
