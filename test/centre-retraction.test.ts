import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCentre, type Centre } from '../services/centre/index.ts';
import { entityHash } from '../services/centre/store.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { until } from './support/workflows.ts';

const AGENCIES = ['mac-centre', 'xa-border-police', 'xb-police', 'xa-coast-guard'];

interface Party {
  client: LiaisonClient;
  inbox: ReceivedMessage[];
}

const intel = (imo: string, summary: string) => ({
  summary,
  route: { origin: 'XZZ', destination: 'XAA' },
  modusOperandi: ['overcrowded fishing vessel'],
  vessel: { imoNumber: imo, kind: 'fishing vessel' },
  migrantsCount: 40,
  location: 'Port Zeta',
  observedAt: new Date().toISOString(),
});

describe('the multiagency centre follows retractions (issue 6)', () => {
  let fed: TestFederation;
  let centreClient: LiaisonClient;
  let centre: Centre;
  const parties = new Map<string, Party>();
  const party = (id: string) => parties.get(id)!;
  const alerts = (id: string, imo: string) => party(id).inbox.filter((m) => m.type === 'CorrelationAlert' && m.body.matchedValue === imo);
  const retractionsOf = (id: string, originalId: string) => party(id).inbox.filter((m) => m.type === 'Retraction' && m.body.originalId === originalId);
  const occurrences = async (imo: string) => (await centre.store.entity(entityHash(`imo:${imo}`)))?.record;

  async function handled(id: string): Promise<void> {
    const end = Date.now() + 8_000;
    while ((await centre.store.factsOf(id)).length === 0) {
      if (Date.now() > end) throw new Error(`centre did not handle ${id}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async function centreReceipt(sender: string, originalId: string): Promise<void> {
    const end = Date.now() + 10_000;
    for (;;) {
      const record = await party(sender).client.retractionStatus(originalId);
      if (record.recipients.some((r) => r.agency === 'mac-centre' && r.acknowledgedAt)) return;
      if (Date.now() > end) throw new Error(`mac-centre did not acknowledge the retraction of ${originalId}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: AGENCIES, name: 'centre-retraction' });
    centreClient = await fed.connect('mac-centre');
    centre = await startCentre({ client: centreClient, reportEveryMs: 0, minPublicCount: 1 });
    for (const id of AGENCIES.slice(1)) {
      const client = await fed.connect(id);
      const inbox: ReceivedMessage[] = [];
      await client.consume((m) => void inbox.push(m), { types: ['CorrelationAlert', 'Retraction'] });
      parties.set(id, { client, inbox });
    }
  });
  afterAll(async () => {
    await centre?.stop();
    await fed?.stop();
  });

  it('a retracted report leaves the link, the report figures and the alerts: both sides’ alerts are retracted, the centre acknowledges', async () => {
    const cg = (await party('xa-coast-guard').client.send('IntelligenceReport', intel('9234567', 'Trawler sighted off Port Zeta.'), { caseRef: 'XA-CG-21' })).id;
    const xb = (await party('xb-police').client.send('IntelligenceReport', intel('9234567', 'Trawler known from a landing.'), { caseRef: 'XB-2026-21' })).id;
    await handled(cg);
    await handled(xb);
    await until(() => alerts('xa-coast-guard', '9234567').length >= 1 && alerts('xb-police', '9234567').length >= 1, 8_000, 'alerts on both sides');
    expect((await occurrences('9234567'))?.linkedAt).toBeDefined();
    const before = await centre.report();
    const sourcesBefore = before.figures.sourceMessages.count;

    await party('xb-police').client.retract(xb, 'vessel misidentified');
    await centreReceipt('xb-police', xb);

    // The link is undone: only the coast guard's occurrence remains, no longer a link.
    const record = await occurrences('9234567');
    expect(record?.occurrences.map((o) => o.messageId)).toEqual([cg]);
    expect(record?.linkedAt).toBeUndefined();
    expect((await centre.store.facts('xb-police', xb))?.retracted).toMatchObject({ reason: 'vessel misidentified' });
    expect(centre.stats.retracted).toBe(1);

    // Every alert that stood on it is retracted at its recipient; the reason names the link, not the withdrawn record.
    for (const id of ['xa-coast-guard', 'xb-police']) {
      const alert = alerts(id, '9234567').at(-1)!;
      await until(() => retractionsOf(id, alert.header.id).length === 1, 8_000, `retraction of ${id}'s alert`);
      const r = retractionsOf(id, alert.header.id)[0]!;
      expect(r.header.sender).toBe('mac-centre');
      expect(String(r.body.reason)).toContain(String(alert.body.alertReference));
      expect(JSON.stringify(r.body)).not.toContain(xb);
      expect(r.body.replacedBy ?? '').toBe(''); // a retraction, not a correction
    }
    expect(centre.stats.alertsRetracted).toBeGreaterThanOrEqual(2);
    const status = await centreClient.retractionStatus(alerts('xa-coast-guard', '9234567').at(-1)!.header.id);
    expect(status.recipients.map((r) => r.agency)).toEqual(['xa-coast-guard']);

    // The strategic report no longer counts it.
    const after = await centre.report();
    expect(after.figures.sourceMessages.count).toBe(sourcesBefore - 1);
    expect(after.figures.linksTotal.count).toBe(before.figures.linksTotal.count - 1);
  });

  it('a correction keeps the link between the others and corrects their alerts; the corrector, no longer involved, has its alerts retracted', async () => {
    const cg = (await party('xa-coast-guard').client.send('IntelligenceReport', intel('9345678', 'Cargo vessel loitering.'), { caseRef: 'XA-CG-22' })).id;
    await handled(cg);
    const bp = (await party('xa-border-police').client.send('IntelligenceReport', intel('9345678', 'Crew recruited in Port Zeta.'), { caseRef: 'XA-BP-22' })).id;
    await handled(bp);
    const xb = (await party('xb-police').client.send('IntelligenceReport', intel('9345678', 'Same vessel, reported by a source.'), { caseRef: 'XB-2026-22' })).id;
    await handled(xb);
    await until(() => alerts('xa-coast-guard', '9345678').some((m) => (m.body.occurrences as { messageId: string }[]).some((o) => o.messageId === xb)), 8_000, 'the alert naming xb-police');
    await until(() => alerts('xb-police', '9345678').length >= 1, 8_000, 'xb-police alert');
    const cgAlert = alerts('xa-coast-guard', '9345678').at(-1)!;

    // xb-police got the IMO wrong: its corrected report names another vessel.
    const { correctedId } = await party('xb-police').client.correct(xb, intel('9456789', 'Same source; vessel IMO corrected.'), 'wrong IMO number');
    await centreReceipt('xb-police', xb);
    await handled(correctedId);

    const record = await occurrences('9345678');
    expect(record?.occurrences.map((o) => o.messageId)).toEqual([cg, bp]);
    expect(record?.linkedAt).toBeDefined();
    // The coast guard's alert that named xb-police's report is corrected: a Retraction naming the replacement, then the recomputed alert.
    await until(() => retractionsOf('xa-coast-guard', cgAlert.header.id).length === 1, 8_000, 'correction of the coast guard alert');
    const replacedBy = String(retractionsOf('xa-coast-guard', cgAlert.header.id)[0]!.body.replacedBy);
    expect(replacedBy).not.toBe('');
    await until(() => party('xa-coast-guard').inbox.some((m) => m.header.id === replacedBy), 8_000, 'the corrected alert');
    const corrected = party('xa-coast-guard').inbox.find((m) => m.header.id === replacedBy)!;
    expect(corrected.type).toBe('CorrelationAlert');
    expect(corrected.header.causationId).toBe(cgAlert.header.id);
    const named = (corrected.body.occurrences as { messageId: string }[]).map((o) => o.messageId);
    expect(named).toContain(cg);
    expect(named).not.toContain(xb);
    expect(centre.stats.alertsCorrected).toBeGreaterThanOrEqual(1);
    // xb-police's own alert about the old IMO is retracted (it no longer holds that value).
    const xbAlert = alerts('xb-police', '9345678').at(-1)!;
    await until(() => retractionsOf('xb-police', xbAlert.header.id).length === 1, 8_000, 'retraction of xb-police alert');
    // The correction counts in the report in place of the original.
    const facts = await centre.store.allFacts();
    expect(facts.find((f) => f.messageId === xb)?.retracted?.replacedBy).toBe(correctedId);
    expect(facts.find((f) => f.messageId === correctedId)?.retracted).toBeUndefined();
  });

  it('ignores a Retraction from anyone but the original’s sender (any agency may send one)', async () => {
    const cg = (await party('xa-coast-guard').client.send('IntelligenceReport', intel('9567890', 'Skiff with outboard engines.'), { caseRef: 'XA-CG-23' })).id;
    const xb = (await party('xb-police').client.send('IntelligenceReport', intel('9567890', 'Skiff seen at the beach.'), { caseRef: 'XB-2026-23' })).id;
    await handled(cg);
    await handled(xb);
    const refused = centre.stats.retractionsRefused;
    await party('xa-border-police').client.send('Retraction', { originalId: cg, originalType: 'IntelligenceReport', reason: 'forged', replacedBy: '' }, { to: 'mac-centre' });
    await until(() => centre.stats.retractionsRefused === refused + 1, 8_000, 'the forged retraction refused');
    expect((await occurrences('9567890'))?.occurrences.map((o) => o.messageId)).toEqual([cg, xb]);
    expect((await centre.store.facts('xa-coast-guard', cg))?.retracted).toBeUndefined();
  });
});
