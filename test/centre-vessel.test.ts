import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCentre, type Centre } from '../services/centre/index.ts';
import { vesselFlagKey } from '../services/centre/normalise.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { until } from './support/workflows.ts';

const AGENCIES = ['mac-centre', 'xa-coast-guard', 'xb-police', 'xa-border-police'];
const SAFE = { safetyAndHumaneTreatment: true, vesselAndCargoNotEndangered: true, flagStateInterestsRespected: true };

describe('the centre links a vessel by IMO number, and by name under its flag, across boarding requests and reports (¶18, ¶17)', () => {
  let fed: TestFederation;
  let centre: Centre;
  const clients = new Map<string, LiaisonClient>();
  const alerts: { agency: string; msg: ReceivedMessage }[] = [];

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: AGENCIES, name: 'centre-vessel' });
    for (const id of AGENCIES) clients.set(id, await fed.connect(id));
    centre = await startCentre({ client: clients.get('mac-centre')!, reportEveryMs: 0 });
    for (const id of AGENCIES.slice(1)) await clients.get(id)!.consume((msg) => void alerts.push({ agency: id, msg }), { types: ['CorrelationAlert'] });
  });
  afterAll(async () => {
    await centre?.stop();
    await fed?.stop();
  });

  async function handled(sender: string, id: string): Promise<void> {
    const end = Date.now() + 8_000;
    while (!(await centre.store.facts(sender, id))) {
      if (Date.now() > end) throw new Error(`centre did not handle ${id}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  const about = (agency: string, value: string) => alerts.filter((a) => a.agency === agency && a.msg.body.matchedValue === value);

  it('name and flag normalise together; without both there is no key', () => {
    expect(vesselFlagKey('Stella-Maris II', 'xbb')).toBe('STELLA MARIS II/XBB');
    expect(vesselFlagKey('Stella Maris II', '')).toBeUndefined();
    expect(vesselFlagKey('', 'XBB')).toBeUndefined();
  });

  it("a boarding request names a vessel by name and flag only: the centre links it to the flag state's intelligence on that vessel, not to a namesake under another flag", async () => {
    // Bellmark's police reported the vessel earlier (no IMO number known); a namesake sails under Corvenia's flag.
    const intel = await clients.get('xb-police')!.send('IntelligenceReport', { summary: 'Fishing vessel loading passengers at night near Cape Orla.', vessel: { name: 'Marisol', flagState: 'XBB' } }, { to: 'all', caseRef: 'XB-2026-31' });
    const namesake = await clients.get('xa-border-police')!.send('IntelligenceReport', { summary: 'Yacht in the marina.', vessel: { name: 'MARISOL', flagState: 'XCC' } }, { to: 'all', caseRef: 'XA-2026-77' });
    await handled('xb-police', intel.id);
    await handled('xa-border-police', namesake.id);
    // Xandria's designated authority asks Bellmark's to authorise boarding (the centre observes it at the operational tier).
    const request = await clients.get('xa-coast-guard')!.send(
      'BoardingAuthorisationRequest',
      {
        requestReference: 'XA-CG-BRD-2026-31',
        vessel: { name: 'MARISOL', flagState: 'xbb' },
        position: '35.12,18.44',
        grounds: 'about 60 persons on deck, no fishing gear',
        measuresRequested: ['BOARDING_MEASURE_BOARD'],
        intelligence: 'Source SEA-9 named the departure',
      },
      { to: 'xb-police', caseRef: 'XA-CG-BRD-2026-31' },
    );
    await handled('xa-coast-guard', request.id);

    await until(() => about('xa-coast-guard', 'MARISOL/XBB').length > 0 && about('xb-police', 'MARISOL/XBB').length > 0, 8_000, 'name+flag alerts');
    const a = about('xa-coast-guard', 'MARISOL/XBB').at(-1)!;
    expect(a.msg.body).toMatchObject({ matchedKind: 'ENTITY_KIND_VESSEL' });
    expect(a.msg.body.confidence).toBeGreaterThanOrEqual(85);
    const linked = ((a.msg.body.occurrences as { messageId: string }[]) ?? []).map((o) => o.messageId).sort();
    expect(linked).toEqual([intel.id, request.id].sort());
    // The namesake under another flag is linked by name alone (low confidence), never by name and flag.
    expect(about('xa-border-police', 'MARISOL/XBB')).toEqual([]);
    await until(() => about('xa-border-police', 'MARISOL').length > 0, 8_000, 'name-only alert');
    expect(about('xa-border-police', 'MARISOL').at(-1)!.msg.body.confidence).toBeLessThan(85);
    // The centre saw the request at its operational tier: the intelligence behind the grounds never reached it.
    expect(JSON.stringify(await centre.store.allEntities())).not.toContain('SEA-9');
  });

  it("the report of measures gives the IMO number found on board: it joins everything the centre holds on that number", async () => {
    const earlier = await clients.get('xb-police')!.send('IntelligenceReport', { summary: 'Vessel registered at Port Bell.', vessel: { imoNumber: 'IMO 9234567' } }, { to: 'all', caseRef: 'XB-2026-32' });
    await handled('xb-police', earlier.id);
    const report = await clients.get('xa-coast-guard')!.send(
      'BoardingMeasuresReport',
      { requestId: 'x', measuresTaken: ['BOARDING_MEASURE_BOARD'], vessel: { name: 'Marisol', imoNumber: '9234567', flagState: 'XBB' }, safeguards: SAFE, migrantsCount: 58 },
      { to: 'xb-police', caseRef: 'XA-CG-BRD-2026-31' },
    );
    await handled('xa-coast-guard', report.id);
    await until(() => about('xa-coast-guard', '9234567').length > 0, 8_000, 'IMO alert');
    const a = about('xa-coast-guard', '9234567').at(-1)!;
    expect(a.msg.body).toMatchObject({ matchedKind: 'ENTITY_KIND_VESSEL', matchedField: 'vessel.imoNumber' });
    expect(((a.msg.body.occurrences as { messageId: string }[]) ?? []).map((o) => o.messageId).sort()).toEqual([earlier.id, report.id].sort());
  });
});
