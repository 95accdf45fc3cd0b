import { headers as natsHeaders } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEntry, readLedger, type CopyEntry, type Entry } from '../services/audit/index.ts';
import type { RunningBridge } from '../services/bridge/bridge.ts';
import { exportConsumerName } from '../services/bridge/compile.ts';
import { AUDIT_COMMANDS } from '../services/cli/commands/audit.ts';
import { runCli } from '../services/cli/main.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { messageSubject } from '../services/sdk/subjects.ts';
import type { TestFederation } from './support/federation.ts';
import { connectAcross, POLICE_ATL_TO_MED, POLICE_MED_TO_ATL, revokeOn } from './support/bridge.ts';
import { createBridgedFederations, stopBridged } from './support/bridged-federations.ts';
import type { TwoFederations } from './support/two-federations.ts';
import { RawAgency } from './support/violations.ts';
import { until } from './support/workflows.ts';

/**
 * The audit ledger and `liaison explain` / `audit query` across a bridge (issue 17, bridge design §8): on both
 * exchanges a copy crossing the agreement is recorded with its ids in that exchange's namespace (the other
 * federation's agency qualified) and the agreement and flow that admitted it; a copy no applied agreement admits is
 * recorded as such, with why. Two real federations (med, atl) on their own nats-servers, bridged under an agreement
 * both roots signed.
 */
const ID = 'med-atl';
const TYPE = 'IntelligenceReport';
const FLOWS = [POLICE_MED_TO_ATL, POLICE_ATL_TO_MED];

let feds: TwoFederations;
let bridge: RunningBridge | undefined;
let medPolice: LiaisonClient;
let atlPolice: LiaisonClient;
const atlGot: ReceivedMessage[] = [];
let family: string;

async function cli(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l), interrupted: new Promise(() => undefined) }, AUDIT_COMMANDS);
  return { code, out, err };
}

/** Every entry of `f`'s ledger once its audit has recorded all that is stored. */
async function ledger(f: TestFederation): Promise<Entry[]> {
  await f.exchange.audit!.flush();
  return (await readLedger(f.exchange.admin)).map((s) => decodeEntry(s.data));
}

/** The copy entries of `f`'s ledger stored under `subject`, last first. */
async function copiesOn(f: TestFederation, subject: string): Promise<CopyEntry[]> {
  return (await ledger(f)).filter((e): e is CopyEntry => e.kind === 'copy' && e.subject === subject).reverse();
}

/** Store one copy on `subject` in med as its xa-border-police's raw client (the broker admits any recipient token); its message id. */
async function storeRaw(subject: string, id: string): Promise<string> {
  const sealed = medPolice.seal(TYPE, { summary: `raw ${id}` }, { to: 'xb-police' });
  const raw = await RawAgency.connect(feds.med.server.url, feds.med.agencyDirs['xa-border-police']!, 'xa-border-police');
  try {
    const copy = sealed.copies[0]!;
    const h = natsHeaders();
    for (const [k, v] of Object.entries(copy.headers)) h.set(k, v);
    h.set('Nats-Msg-Id', `raw-${id}`);
    await raw.nc.request(subject, copy.data, { headers: h, timeout: 5_000 });
    return sealed.id;
  } finally {
    await raw.close();
  }
}

beforeAll(async () => {
  ({ feds, bridge } = await createBridgedFederations({ med: ['xa-border-police', 'xb-police'], atl: ['xb-police', 'xa-border-police'], id: ID, flows: FLOWS }));
  family = feds.med.catalog.get(TYPE).family;
  ({ med: medPolice, atl: atlPolice } = await connectAcross(feds, 'xa-border-police', 'xb-police'));
  await atlPolice.consume((m) => void atlGot.push(m), { types: [TYPE] });
}, 120_000);

afterAll(() => stopBridged(bridge, feds), 60_000);

describe('the audit across a bridge', () => {
  it('both ledgers record a bridged copy with qualified ids and the agreement and flow that admitted it; the same bytes on both sides', async () => {
    const sent = await medPolice.send(TYPE, { summary: 'audited across' }, { to: 'atl:xb-police' });
    await until(() => atlGot.some((m) => m.header.id === sent.id), 15_000, 'the bridged copy');
    const out = messageSubject({ tier: 'personal', family, type: TYPE, sender: 'xa-border-police', recipient: 'atl:xb-police' });
    const into = messageSubject({ tier: 'personal', family, type: TYPE, sender: 'med:xa-border-police', recipient: 'xb-police' });

    const [atMed] = (await copiesOn(feds.med, out)).filter((e) => e.id === sent.id);
    expect(atMed, 'med records the outbound copy').toBeDefined();
    expect(atMed!).toMatchObject({ sender: 'xa-border-police', recipient: 'atl:xb-police', tier: 'personal' });
    expect(atMed!.cross).toEqual({ peer: 'atl', direction: 'outbound', agreement: ID, flow: 'flows[0]', via: exportConsumerName('atl', 'xa-border-police', 'xb-police', TYPE, 'personal') });
    expect(atMed!.deliverTo).toContain('atl:xb-police');
    expect(atMed!.mismatch).toBeUndefined();

    const [atAtl] = (await copiesOn(feds.atl, into)).filter((e) => e.id === sent.id);
    expect(atAtl, 'atl records the inbound copy').toBeDefined();
    expect(atAtl!).toMatchObject({ sender: 'med:xa-border-police', recipient: 'xb-police', tier: 'personal' });
    expect(atAtl!.cross).toEqual({ peer: 'med', direction: 'inbound', agreement: ID, flow: 'flows[0]' });
    expect(atAtl!.deliverTo).toContain('xb-police');
    // ce-source names xa-border-police in med's namespace: localised, it is the subject's med:xa-border-police.
    expect(atAtl!.mismatch).toBeUndefined();
    expect(atAtl!.digest).toBe(atMed!.digest);
  }, 60_000);

  it('liaison explain answers for a bridged message on both exchanges: the agreement, and acknowledgements by the bridge and by the recipient', async () => {
    const sent = await medPolice.send(TYPE, { summary: 'explain me' }, { to: 'atl:xb-police' });
    await until(() => atlGot.some((m) => m.header.id === sent.id), 15_000, 'the bridged copy');
    type Explained = { sender: string; recipient: string; copies: { deliverTo: string[]; acknowledged: string[]; cross?: { agreement?: string; flow?: string } }[] };
    const explain = async (f: TestFederation, from?: string): Promise<Explained | undefined> => {
      await f.exchange.audit!.flush();
      const r = await cli(['explain', '--dir', f.trustDir, '--server', f.server.url, sent.id, ...(from ? ['--from', from] : []), '--json']);
      return r.code === 0 ? (JSON.parse(r.out[0]!) as Explained) : undefined;
    };
    // The bridge acks med's export consumer only after atl stored the copy: that is med's receipt for atl:xb-police.
    await until(async () => (await explain(feds.med))?.copies[0]?.acknowledged.includes('atl:xb-police') === true, 15_000, 'med’s receipt of the bridge');
    const med = (await explain(feds.med))!;
    expect(med).toMatchObject({ sender: 'xa-border-police', recipient: 'atl:xb-police' });
    expect(med.copies).toHaveLength(1);
    expect(med.copies[0]!.cross).toMatchObject({ agreement: ID, flow: 'flows[0]' });

    await until(async () => (await explain(feds.atl, 'med:xa-border-police'))?.copies[0]?.acknowledged.includes('xb-police') === true, 15_000, 'atl’s receipt by xb-police');
    const atl = (await explain(feds.atl, 'med:xa-border-police'))!;
    expect(atl).toMatchObject({ sender: 'med:xa-border-police', recipient: 'xb-police' });
    expect(atl.copies[0]!.cross).toMatchObject({ agreement: ID, flow: 'flows[0]' });

    const text = await cli(['explain', '--dir', feds.atl.trustDir, '--server', feds.atl.server.url, sent.id]);
    expect(text.out.join('\n')).toContain(`from med:xa-border-police to xb-police`);
    expect(text.out.join('\n')).toContain(`across agreement ${ID} flows[0] (from med)`);
    // audit query by the qualified id, on the sending side: the copy addressed to it, acknowledged through the bridge.
    const q = await cli(['audit', 'query', '--dir', feds.med.trustDir, '--server', feds.med.server.url, '--agency', 'atl:xb-police', '--json']);
    const rows = JSON.parse(q.out[0]!) as { entry: CopyEntry; roles: string[]; acked?: string[] }[];
    const row = rows.find((r) => r.entry.id === sent.id)!;
    expect(row.roles).toEqual(['addressed', 'delivered']);
    expect(row.acked).toEqual(['atl:xb-police']);
  }, 90_000);

  it('a copy no applied agreement admits is recorded as not admitted, with why, and is delivered to no foreign agency', async () => {
    // A pair not in the agreement (atl's xa-border-police is no party), and the agreed pair above the flow's tier.
    const otherPair = messageSubject({ tier: 'personal', family, type: TYPE, sender: 'xa-border-police', recipient: 'atl:xa-border-police' });
    const tooHigh = messageSubject({ tier: 'special', family, type: TYPE, sender: 'xa-border-police', recipient: 'atl:xb-police' });
    await storeRaw(otherPair, 'other-pair');
    await storeRaw(tooHigh, 'too-high');
    const [a] = await copiesOn(feds.med, otherPair);
    expect(a?.cross).toMatchObject({ peer: 'atl', direction: 'outbound' });
    expect(a!.cross!.agreement).toBeUndefined();
    expect(a!.cross!.refused).toMatch(/may not send IntelligenceReport to atl:xa-border-police under agreement med-atl/);
    expect(a!.deliverTo).not.toContain('atl:xa-border-police');
    const [b] = await copiesOn(feds.med, tooHigh);
    expect(b!.cross!.agreement).toBeUndefined();
    expect(b!.cross!.refused).toMatch(/up to the personal tier, not special/);
    expect(b!.deliverTo).not.toContain('atl:xb-police');
    const q = await cli(['audit', 'query', '--dir', feds.med.trustDir, '--server', feds.med.server.url, '--agency', 'atl:xa-border-police']);
    expect(q.out.join('\n')).toContain('NOT ADMITTED by any applied agreement');
    // Inbound: atl's import user cannot store such a copy; the exchange administrator can. atl's xa-border-police is no party.
    const inbound = messageSubject({ tier: 'personal', family, type: TYPE, sender: 'med:xa-border-police', recipient: 'xa-border-police' });
    await feds.atl.exchange.admin.request(inbound, new Uint8Array([1]), { timeout: 5_000 });
    const [c] = await copiesOn(feds.atl, inbound);
    expect(c!.cross).toMatchObject({ peer: 'med', direction: 'inbound' });
    expect(c!.cross!.agreement).toBeUndefined();
    expect(c!.cross!.refused).toMatch(/xa-border-police may not receive IntelligenceReport from med:xa-border-police under agreement med-atl/);
  }, 60_000);

  it('a copy the peer’s broker refuses is terminated by the bridge: explain says refused across, not acknowledged', async () => {
    // The agreed pair at a tier below the flow's: exported (an export consumer per tier up to the flow's), but atl's
    // import user may publish only the tier xb-police reads (personal), so atl's broker refuses it.
    const subject = messageSubject({ tier: 'public', family, type: TYPE, sender: 'xa-border-police', recipient: 'atl:xb-police' });
    const id = await storeRaw(subject, 'refused-across');
    const [c] = await copiesOn(feds.med, subject);
    expect(c!.cross).toMatchObject({ agreement: ID, via: exportConsumerName('atl', 'xa-border-police', 'xb-police', TYPE, 'public') });
    type Explained = { copies: { acknowledged: string[] }[]; refused: { by: string; code: string; reason: string }[] };
    const explain = async (): Promise<Explained> => {
      await feds.med.exchange.audit!.flush();
      return JSON.parse((await cli(['explain', '--dir', feds.med.trustDir, '--server', feds.med.server.url, id, '--json'])).out[0]!) as Explained;
    };
    await until(async () => (await explain()).refused.length > 0, 15_000, 'the bridge’s refusal in med’s ledger');
    const x = await explain();
    expect(x.refused).toEqual([{ by: 'atl:xb-police', code: 'REFUSED_ACROSS', reason: expect.stringContaining("atl's broker refused it"), at: expect.any(String) }]);
    // The export consumer's floor has passed it (a terminated copy counts as done), yet atl never acknowledged it.
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await explain()).copies[0]!.acknowledged).not.toContain('atl:xb-police');
    const q = await cli(['audit', 'query', '--dir', feds.med.trustDir, '--server', feds.med.server.url, '--agency', 'atl:xb-police']);
    expect(q.out.find((l) => l.includes(`id ${id} `))).toContain("REFUSED by atl's broker");
    // The refusal is an entry of the chain like any other.
    expect((await cli(['audit', 'verify', '--dir', feds.med.trustDir, '--server', feds.med.server.url])).out.at(-1)).toBe('ledger intact');
  }, 60_000);

  it('after bridge revoke, a copy to the former recipient is recorded as not admitted: the audit reads the agreements in force', async () => {
    const subject = messageSubject({ tier: 'personal', family, type: TYPE, sender: 'xa-border-police', recipient: 'atl:xb-police' });
    const before = await medPolice.send(TYPE, { summary: 'before revoke' }, { to: 'atl:xb-police' });
    const [admitted] = (await copiesOn(feds.med, subject)).filter((e) => e.id === before.id);
    expect(admitted!.cross!.agreement).toBe(ID);
    await revokeOn(feds.med, ID);
    await storeRaw(subject, 'after-revoke');
    const [last] = await copiesOn(feds.med, subject);
    expect(last!.msgId).toBe('raw-after-revoke');
    expect(last!.cross).toEqual({ peer: 'atl', direction: 'outbound', refused: 'no agreement with atl is applied on this exchange' });
    expect(last!.deliverTo).not.toContain('atl:xb-police');
  }, 60_000);
});
