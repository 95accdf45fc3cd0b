import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCentre, type Centre } from '../services/centre/index.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { until } from './support/workflows.ts';

const AGENCIES = ['mac-centre', 'xa-ngo-harbour', 'xa-coast-guard', 'xa-border-police', 'xc-training'];

const atSea = {
  topic: 'PRACTICE_TOPIC_COOPERATION_AT_SEA',
  title: 'One duty desk per state for boarding requests, answering within the hour',
  paragraphs: ['18'],
  summary: 'The designated authority (Protocol art. 8(6)) keeps a 24/7 desk with a registry officer, so flag-state answers come within the hour.',
  description: 'Since 2025 the coast guard runs the desk with the ship registry; requests arrive through Liaison; average answer time fell from 9 hours to 40 minutes.',
  contact: 'Xandria MRCC, boarding desk',
  countries: ['XAA'],
  reference: 'https://example.org/practices/boarding-desk',
};
const disembarkation = {
  topic: 'PRACTICE_TOPIC_WOMEN_AND_CHILDREN',
  title: 'Separate reception for women and unaccompanied children at disembarkation',
  paragraphs: ['11', '10'],
  summary: 'Female staff and a child-protection officer meet every disembarkation; needs are recorded before any interview.',
  description: 'Agreed with the port authority; the boarding report of measures tells the NGO how many women and children to expect.',
  contact: 'Harbour Lights reception team',
  countries: ['XAA'],
};

describe('good practices (¶11, ¶18): public PracticeNotes and their catalogue in the strategic report', () => {
  let fed: TestFederation;
  let centre: Centre;
  const clients = new Map<string, LiaisonClient>();
  const inbox: { agency: string; msg: ReceivedMessage }[] = [];

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: AGENCIES, name: 'practices' });
    for (const id of AGENCIES) clients.set(id, await fed.connect(id));
    centre = await startCentre({ client: clients.get('mac-centre')!, reportEveryMs: 0 });
    for (const id of AGENCIES.slice(1)) {
      const c = clients.get(id)!;
      const receivable = new Set(c.consumerSpecs().map((s) => s.type));
      await c.consume((msg) => void inbox.push({ agency: id, msg }), { types: ['PracticeNote', 'StrategicReport'].filter((t) => receivable.has(t)) });
    }
  });
  afterAll(async () => {
    await centre?.stop();
    await fed?.stop();
  });

  const copies = (type: string, id: string) => inbox.filter((r) => r.msg.type === type && r.msg.header.id === id);
  async function handled(sender: string, id: string): Promise<void> {
    const end = Date.now() + 8_000;
    while (!(await centre.store.facts(sender, id))) {
      if (Date.now() > end) throw new Error(`centre did not handle ${id}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  it('a practice note is broadcast whole at the public tier, to civil society and training institutes too', async () => {
    const sent = await clients.get('xa-coast-guard')!.send('PracticeNote', atSea, { to: 'all' });
    await until(() => copies('PracticeNote', sent.id).length === 3, 8_000, 'three copies');
    for (const { agency, msg } of copies('PracticeNote', sent.id)) {
      expect(msg.header.tier, agency).toBe('public');
      expect(msg.body).toMatchObject({ ...atSea });
    }
    expect(copies('PracticeNote', sent.id).map((r) => r.agency).sort()).toEqual(['xa-border-police', 'xa-ngo-harbour', 'xc-training']);
    // Public notes are for everyone: a note addressed to one agency has no receiving rule; the centre shares none of its own.
    await expect(clients.get('xa-ngo-harbour')!.send('PracticeNote', disembarkation, { to: 'xa-coast-guard' })).rejects.toMatchObject({ code: 'ERR_POLICY_RECEIVE_DENIED' });
    await expect(clients.get('mac-centre')!.send('PracticeNote', disembarkation, { to: 'all' })).rejects.toMatchObject({ code: 'ERR_POLICY_SEND_DENIED' });
  });

  it("the centre's strategic report lists the practices shared (newest first, who shared them), in the public copy civil society receives; a retracted one leaves it", async () => {
    const first = await clients.get('xa-coast-guard')!.send('PracticeNote', atSea, { to: 'all' });
    await handled('xa-coast-guard', first.id);
    await new Promise((r) => setTimeout(r, 5));
    const second = await clients.get('xa-ngo-harbour')!.send('PracticeNote', disembarkation, { to: 'all' });
    await handled('xa-ngo-harbour', second.id);

    const r = await centre.report({ publish: true, id: '01a2b3c4-0000-7000-8000-00000000c0de' });
    const titles = (r.body.practices as { title: string }[]).map((p) => p.title);
    expect(titles[0]).toBe(disembarkation.title);
    expect(titles).toContain(atSea.title);
    expect((r.body.practices as Record<string, unknown>[])[0]).toMatchObject({
      topic: 'PRACTICE_TOPIC_WOMEN_AND_CHILDREN',
      paragraphs: ['11', '10'],
      summary: disembarkation.summary,
      contact: disembarkation.contact,
      sharedBy: 'xa-ngo-harbour',
    });
    // The full description stays in the note; the catalogue carries what a reader needs to ask for it.
    expect(JSON.stringify(r.body.practices)).not.toContain('port authority');

    await until(() => copies('StrategicReport', r.published!).length === 4, 8_000, 'report copies');
    const ngoCopy = copies('StrategicReport', r.published!).find((x) => x.agency === 'xa-ngo-harbour')!;
    expect(ngoCopy.msg.header.tier).toBe('public');
    expect((ngoCopy.msg.body.practices as { title: string }[]).map((p) => p.title)).toEqual(titles);

    await clients.get('xa-ngo-harbour')!.retract(second.id, 'published before the port authority agreed');
    const end = Date.now() + 8_000;
    while (!(await centre.store.facts('xa-ngo-harbour', second.id))?.retracted) {
      if (Date.now() > end) throw new Error('retraction not applied');
      await new Promise((res) => setTimeout(res, 25));
    }
    const after = await centre.report();
    expect((after.body.practices as { title: string }[]).map((p) => p.title)).not.toContain(disembarkation.title);
    expect((after.body.practices as { title: string }[]).map((p) => p.title)).toContain(atSea.title);
  });
});
