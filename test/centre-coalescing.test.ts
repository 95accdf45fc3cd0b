/**
 * The centre's alert coalescing (issue 13): while messages about one value arrive together, each
 * recipient gets one signed alert about it carrying every message's reference, not one per message; no
 * offer settles (so no message is acknowledged) before the alert covering it is out; the alerts waiting
 * are bounded; the record lists only alerts sent; and a retraction still settles merged alerts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertCoalescer } from '../services/centre/alert-coalescer.ts';
import { alertPlanStats } from '../services/centre/alerts.ts';
import { deliverAlert, forgetAlerts, recordEntity, type CorrelateContext } from '../services/centre/correlate.ts';
import { extractEntities } from '../services/centre/entities.ts';
import { EntityWriter } from '../services/centre/entity-writer.ts';
import { startCentre } from '../services/centre/index.ts';
import { CorrelationStore, entityHash } from '../services/centre/store.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { silentLogger } from '../services/sdk/logging.ts';
import { agencyBuckets } from '../services/sdk/policy/index.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { until } from './support/workflows.ts';

const AGENCIES = ['mac-centre', 'xb-police', 'xa-coast-guard'];
const RECIPIENTS = ['xa-coast-guard', 'xb-police'];

const report = (imo: string, summary: string) => ({ summary, vessel: { imoNumber: `IMO ${imo}`, kind: 'fishing vessel' }, location: 'Port Zeta', observedAt: new Date().toISOString() });

/** True once `p` has settled (checked after the current turn of the event loop). */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setImmediate(r));
  return done;
}

describe('the centre coalesces its alerts per (value, recipient)', () => {
  let fed: TestFederation;
  let centre: LiaisonClient;
  let bucket: string;
  /** What the centre's agency received (the reports the tests correlate by hand). */
  const atCentre: ReceivedMessage[] = [];
  /** Each recipient's CorrelationAlerts and Retractions. */
  const inbox = new Map<string, ReceivedMessage[]>();
  const alertsAbout = (to: string, imo: string) => inbox.get(to)!.filter((m) => m.type === 'CorrelationAlert' && String(m.body.matchedValue).includes(imo));
  const idsIn = (alert: ReceivedMessage) => (alert.body.occurrences as { messageId: string }[]).map((o) => o.messageId).sort();

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: AGENCIES, name: 'centre-coalescing' });
    centre = await fed.connect('mac-centre');
    bucket = agencyBuckets(centre.policy, centre.id).find((b) => b.kind === 'kv' && b.name === 'correlations')!.bucket;
    for (const id of RECIPIENTS) {
      const client = await fed.connect(id);
      const got: ReceivedMessage[] = [];
      await client.consume((m) => void got.push(m), { types: ['CorrelationAlert', 'Retraction'] });
      inbox.set(id, got);
    }
  });
  afterAll(async () => {
    await fed?.stop();
  });

  /** Three reports of one vessel (coast guard, then police twice), as the centre's agency received them. */
  async function threeReports(imo: string): Promise<ReceivedMessage[]> {
    const receiver = await fed.connect('mac-centre');
    await receiver.consume((m) => void atCentre.push(m), { types: ['IntelligenceReport'] });
    const cg = await fed.connect('xa-coast-guard');
    const police = await fed.connect('xb-police');
    const ids = [
      (await cg.send('IntelligenceReport', report(imo, 'Trawler sighted.'))).id,
      (await police.send('IntelligenceReport', report(imo, 'Trawler known from a landing.'))).id,
      (await police.send('IntelligenceReport', report(imo, 'Trawler seen again.'))).id,
    ];
    await until(() => ids.every((id) => atCentre.some((m) => m.header.id === id)), 8_000, 'the reports at the centre');
    await receiver.close();
    return ids.map((id) => atCentre.find((m) => m.header.id === id)!);
  }

  /** A correlation context whose alerts go through a coalescer (window and cap as given). */
  async function coalescing(o: { windowMs: number; cap?: number }) {
    const store = await CorrelationStore.open(centre.nc, bucket);
    const writer = new EntityWriter(store);
    const stats = { occurrences: 0, alerts: 0, withheld: 0, undeliverable: 0 };
    const logger = silentLogger();
    const alerts = new AlertCoalescer({
      send: (a) => deliverAlert({ client: centre, stats, logger }, a),
      forget: async (hash, ids) => void (await writer.update(hash, forgetAlerts(ids))),
      ...o,
    });
    const ctx: CorrelateContext = { client: centre, writer, logger, stats, now: () => Date.now(), alerts };
    const record = (m: ReceivedMessage, imo: string) => {
      const e = extractEntities(centre.catalog.get(m.type), m.body).entities.find((x) => x.key === `imo:${imo}`)!;
      const base = { messageId: m.header.id, type: m.type, agency: m.header.sender, recipient: m.header.recipient, caseRef: m.header.caseRef, sentAt: m.header.createdAt.toISOString(), handling: m.header.handling, tlp: m.header.tlp, context: [] };
      return recordEntity(ctx, m, e, entityHash(`imo:${imo}`), base);
    };
    return { store, stats, alerts, record };
  }

  it('three messages on one value: one alert per recipient, carrying all three, and nothing settles before it is out', async () => {
    const imo = '9000101';
    const [m1, m2, m3] = await threeReports(imo);
    const { store, stats, alerts, record } = await coalescing({ windowMs: 60_000 });
    const built0 = alertPlanStats.built;
    const release = alerts.hold(); // A handler still working: the alerts wait for newer ones.
    await (await record(m1!, imo)).alerted; // Alone it is no link: nothing to wait for.
    const r2 = await record(m2!, imo);
    const r3 = await record(m3!, imo);
    // m2 and m3 each planned an alert to both agencies, and each is on the record from its write…
    expect(alerts.stats.offered).toBe(4);
    expect(alerts.pending).toBe(2);
    expect((await store.entity(entityHash(`imo:${imo}`)))!.record.alerts).toHaveLength(4);
    // …but none is out yet, and no offer has settled: a handler awaiting it cannot acknowledge its message.
    await new Promise((r) => setTimeout(r, 500));
    expect(await settled(r2.alerted)).toBe(false);
    expect(await settled(r3.alerted)).toBe(false);
    for (const to of RECIPIENTS) expect(alertsAbout(to, imo)).toHaveLength(0);

    release(); // No handler works any more: the waiting alerts go at once.
    await Promise.all([r2.alerted, r3.alerted]);
    await alerts.settle();
    expect(alerts.stats).toMatchObject({ offered: 4, sent: 2, merged: 2 });
    expect(stats.alerts).toBe(2);
    // Issue 16 item 3: an alert's body is built when it is sent: 2 bodies for 4 alerts offered (before: 4).
    expect(alertPlanStats.built - built0).toBe(2);
    await until(() => RECIPIENTS.every((to) => alertsAbout(to, imo).length >= 1), 8_000, 'the alerts');
    await new Promise((r) => setTimeout(r, 300));
    for (const to of RECIPIENTS) {
      const got = alertsAbout(to, imo);
      expect(got).toHaveLength(1);
      // The one alert carries every message's reference: the newest alert's record holds the older ones.
      expect(idsIn(got[0]!)).toEqual([m1!.header.id, m2!.header.id, m3!.header.id].sort());
    }
    // The record lists only the alerts sent (the replaced ones were taken off), triggered by the newest message.
    const listed = (await store.entity(entityHash(`imo:${imo}`)))!.record.alerts!;
    expect(listed.map((a) => [a.to, a.trigger]).sort()).toEqual(RECIPIENTS.map((to) => [to, m3!.header.id]));
    expect(listed.map((a) => a.id).sort()).toEqual(RECIPIENTS.map((to) => alertsAbout(to, imo)[0]!.header.id).sort());
  });

  it('bounded: once the cap of waiting alerts is reached they go at once, though a handler still works', async () => {
    const imo = '9000102';
    const [m1, m2] = await threeReports(imo);
    const { alerts, record } = await coalescing({ windowMs: 60_000, cap: 2 });
    const release = alerts.hold();
    try {
      await (await record(m1!, imo)).alerted;
      const r2 = await record(m2!, imo); // Two alerts (one per agency): the cap.
      await Promise.race([r2.alerted, new Promise((_, reject) => setTimeout(() => reject(new Error('alerts still waiting at the cap')), 5_000))]);
      expect(alerts.stats.flushes).toBe(1);
      expect(alerts.pending).toBe(0);
      await until(() => RECIPIENTS.every((to) => alertsAbout(to, imo).length === 1), 8_000, 'the alerts');
    } finally {
      release();
    }
  });

  it('a running centre over a backlog sends each recipient one merged alert, and a retraction of its trigger corrects it', async () => {
    const imo = '9000103';
    const cg = await fed.connect('xa-coast-guard');
    const police = await fed.connect('xb-police');
    // A backlog: stored before the centre starts, so its handlers take all three at once.
    const c1 = (await cg.send('IntelligenceReport', report(imo, 'Trawler sighted.'))).id;
    const p2 = (await police.send('IntelligenceReport', report(imo, 'Trawler known from a landing.'))).id;
    const p3 = (await police.send('IntelligenceReport', report(imo, 'Trawler seen again.'))).id;
    const client = await fed.connect('mac-centre');
    const running = await startCentre({ client, reportEveryMs: 0, alertWindowMs: 10_000, types: ['IntelligenceReport', 'Retraction'] });
    try {
      await until(() => running.stats.processed >= 3, 10_000, 'the backlog handled');
      expect(running.stats.alerts).toBe(2);
      expect(running.stats.alertsMerged).toBe(2);
      await until(() => RECIPIENTS.every((to) => alertsAbout(to, imo).length >= 1), 8_000, 'the alerts');
      for (const to of RECIPIENTS) {
        expect(alertsAbout(to, imo)).toHaveLength(1);
        expect(idsIn(alertsAbout(to, imo)[0]!)).toEqual([c1, p2, p3].sort());
      }
      // The merged alerts stood on p3 (their trigger) and every earlier report: retracting p3 recomputes
      // them; the link stands (c1 and p2), so each recipient's alert is corrected, none left naming p3.
      await police.retract(p3, 'duplicate report');
      await until(() => running.stats.alertsCorrected >= 2, 10_000, 'the merged alerts corrected');
      expect(running.stats.alertsRetracted).toBe(0);
      for (const to of RECIPIENTS) {
        await until(() => alertsAbout(to, imo).length >= 2, 8_000, `the correction at ${to}`);
        expect(idsIn(alertsAbout(to, imo).at(-1)!)).toEqual([c1, p2].sort());
      }
    } finally {
      await running.stop();
      await client.close();
    }
  });
});
