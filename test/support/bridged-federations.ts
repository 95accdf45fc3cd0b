import type { RunningBridge } from '../../services/bridge/bridge.ts';
import { applyAgreement, bridgeUp, type AgreementOptions, type TestFlow } from './bridge.ts';
import { createTwoFederations, type TwoFederations } from './two-federations.ts';

/** Two test federations bridged under one agreement. */
export interface BridgedFederations {
  feds: TwoFederations;
  /** The bridge between them (the caller stops it before `feds`). */
  bridge: RunningBridge;
}

/** What to bridge: the agencies enrolled on each side, the agreement's id and flows, and its other keys. */
export interface BridgedOptions extends AgreementOptions {
  med: string[];
  atl: string[];
  id: string;
  flows: TestFlow[];
}

/**
 * Start `med` and `atl` (see createTwoFederations), sign agreement `id` with both roots, apply it on both sides and
 * start the bridge: what every bridge test and bench sets up first. On a failure part-way, both federations are stopped.
 */
export async function createBridgedFederations(o: BridgedOptions): Promise<BridgedFederations> {
  const feds = await createTwoFederations({ med: o.med, atl: o.atl });
  try {
    await applyAgreement(feds, o.id, o.flows, { expires: o.expires, outage: o.outage });
    return { feds, bridge: await bridgeUp(feds, o.id) };
  } catch (err) {
    await feds.stop();
    throw err;
  }
}

/** Stop what a bridge test started: the bridge, if it still runs, then both federations, if they started. */
export async function stopBridged(bridge: RunningBridge | undefined, feds: TwoFederations | undefined): Promise<void> {
  await bridge?.stop();
  await feds?.stop();
}
