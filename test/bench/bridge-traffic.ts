/**
 * What the bridge benches (bridge.bench.ts, bridge-backlog.bench.ts) share: sending a run of IntelligenceReports in
 * batches, waiting for the handler, checking what it handled against what was sent, and the bridge's own counts.
 */
import type { RunningBridge } from '../../services/bridge/bridge.ts';
import type { LiaisonClient } from '../../services/sdk/client/client.ts';

/** The type every bridge bench sends (the agreed flow's). */
export const TYPE = 'IntelligenceReport';
/** Copies published concurrently at a time; order is checked between batches. */
export const BATCH = 100;

/** Resolve after `ms`. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait until `pred` holds or `ms` passed; true when it held (a bench reports a timeout, it does not throw). */
export async function within(pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) return false;
    await sleep(10);
  }
  return true;
}

/**
 * Send `n` copies from `sender` to `to`, BATCH at a time (each batch published concurrently), summaries
 * `${label} ${i}`; each id is pushed on `sent` in send order as its batch is acknowledged, so a caller that catches
 * an error knows how many got through.
 */
export async function sendInBatches(sender: LiaisonClient, to: string, n: number, label: string, sent: string[]): Promise<void> {
  for (let i = 0; i < n; i += BATCH) {
    const rs = await Promise.all(Array.from({ length: Math.min(BATCH, n - i) }, (_, k) => sender.send(TYPE, { summary: `${label} ${i + k}`, assessment: 'bench' }, { to })));
    for (const r of rs) sent.push(r.id);
  }
}

/** What went wrong with `handled` against `sent` (lost, repeated, foreign to `run`, out of batch order); empty when nothing did. */
export function deliveryProblems(sent: string[], handled: string[], run: string): string[] {
  const out: string[] = [];
  const want = new Set(sent);
  const got = new Set(handled);
  const lost = sent.filter((id) => !got.has(id)).length;
  const twice = handled.length - got.size;
  const foreign = handled.filter((id) => !want.has(id)).length;
  let disorder = 0;
  // Each batch is published concurrently: order is checked between batches.
  for (let b = 0; b < sent.length; b += BATCH) {
    const batch = new Set(sent.slice(b, b + BATCH));
    disorder += handled.slice(b, b + BATCH).filter((id) => !batch.has(id)).length;
  }
  if (lost) out.push(`${lost} lost`);
  if (twice) out.push(`${twice} handled twice`);
  if (foreign) out.push(`${foreign} not of this ${run}`);
  if (disorder) out.push(`${disorder} out of batch order`);
  return out;
}

/** The copies `receiver`'s SDK rejected, as a problem line naming `side`; undefined when none were. */
export function rejectedProblem(receiver: LiaisonClient, side: string): string | undefined {
  const rejected = Object.values(receiver.stats.rejected).reduce((a: number, n) => a + (n ?? 0), 0);
  return rejected ? `${rejected} rejected by ${side}'s SDK (${JSON.stringify(receiver.stats.rejected)})` : undefined;
}

/** The bridge's counts of its med→atl link, as a suffix of a figure line ('' when it has none). */
export function linkFigures(bridge: RunningBridge): string {
  const s = bridge.stats()['med→atl'];
  return s ? `; bridge forwarded ${s.forwarded}, duplicates ${s.duplicates}, refused ${s.refused}, restarts ${s.restarts}` : '';
}
