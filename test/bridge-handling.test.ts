/**
 * A bridged copy's markings under the recipient's own policy (issue 17): inside a federation its own policy governs,
 * so a copy from across is refused (ERR_POLICY_HANDLING_DENIED) when the recipient's receive rule for the type at that
 * tier does not admit its handling code — here atl's prosecutor, whose IntelligenceReport rule leaves out H1 ("not for
 * judicial use without permission of the originator"). The sender's SDK cannot know the peer's rules; the receiver
 * decides, as for a local copy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBridge } from '../services/bridge/bridge.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { Rejection } from '../services/sdk/client/consume.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { connectAcross } from './support/bridge.ts';
import { createBridgedFederations, stopBridged } from './support/bridged-federations.ts';
import type { TwoFederations } from './support/two-federations.ts';
import { until } from './support/workflows.ts';

const ID = 'med-atl';
const TYPE = 'IntelligenceReport';
const FLOWS = [{ from: 'med:xa-border-police', to: 'atl:xb-prosecutor', types: [TYPE], tier: 'personal' }];

let feds: TwoFederations;
let bridge: RunningBridge | undefined;
let sender: LiaisonClient;
const got: ReceivedMessage[] = [];
const rejected: Rejection[] = [];

beforeAll(async () => {
  ({ feds, bridge } = await createBridgedFederations({ med: ['xa-border-police'], atl: ['xb-prosecutor'], id: ID, flows: FLOWS }));
  const connected = await connectAcross(feds, 'xa-border-police', 'xb-prosecutor');
  sender = connected.med;
  const receiver = connected.atl;
  await receiver.consume((m) => void got.push(m), { types: [TYPE], onReject: (r) => void rejected.push(r) });
}, 120_000);

afterAll(() => stopBridged(bridge, feds), 60_000);

describe('markings of a bridged copy', () => {
  const outcome = async (id: string) => {
    await until(() => got.some((m) => m.header.id === id) || rejected.some((r) => r.reason.includes(id) || r.subject.includes('med:xa-border-police')), 20_000, `the copy ${id}`);
    return got.some((m) => m.header.id === id) ? 'handled' : rejected.at(-1)!.code;
  };

  it('a copy marked H2 reaches atl’s prosecutor', async () => {
    const r = await sender.send(TYPE, { summary: 'usable in court' }, { to: 'atl:xb-prosecutor', handling: 'H2' });
    expect(await outcome(r.id)).toBe('handled');
  }, 30_000);

  it('a copy marked H1 is refused there by the prosecutor’s own rule (ERR_POLICY_HANDLING_DENIED), not handled', async () => {
    const r = await sender.send(TYPE, { summary: 'not for judicial use' }, { to: 'atl:xb-prosecutor', handling: 'H1' });
    expect(await outcome(r.id)).toBe('ERR_POLICY_HANDLING_DENIED');
    expect(got.some((m) => m.header.id === r.id)).toBe(false);
  }, 30_000);
});
