import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCentre, type Centre } from '../services/centre/index.ts';
import { parseCommandArgs, type CliIo } from '../services/cli/args.ts';
import { CENTRE_COMMANDS } from '../services/cli/commands/centre.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { receiveCeiling } from '../services/sdk/policy/index.ts';
import { fieldsAboveTier, fromJson } from '../services/sdk/schema/index.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { until } from './support/workflows.ts';

interface Party {
  client: LiaisonClient;
  inbox: ReceivedMessage[];
  alerts(): ReceivedMessage[];
}

const AGENCIES = ['mac-centre', 'xa-border-police', 'xb-police', 'xa-coast-guard', 'xa-ngo-harbour'];

/** Everything a sent message carries that must never reach an agency that could not receive it. */
interface Sent {
  id: string;
  sender: string;
  type: string;
  /** `all` or the recipient. */
  to: string;
  /** Distinctive strings of the message (values, case reference), as written and normalised. */
  secrets: string[];
}

describe('multiagency centre (¶17) on a real exchange', () => {
  let fed: TestFederation;
  let centreClient: LiaisonClient;
  let centre: Centre;
  const parties = new Map<string, Party>();
  const sent: Sent[] = [];
  const party = (id: string) => parties.get(id)!;

  async function send(from: string, type: string, body: Record<string, unknown>, opts: { to?: string; caseRef?: string } = {}, secrets: string[] = []): Promise<string> {
    const r = await party(from).client.send(type, body, opts);
    sent.push({ id: r.id, sender: from, type, to: opts.to ?? 'all', secrets: [r.id, ...(opts.caseRef ? [opts.caseRef] : []), ...secrets] });
    return r.id;
  }

  /** Wait until the centre has fully handled a message (its facts are written last). */
  async function handled(id: string): Promise<void> {
    const end = Date.now() + 8_000;
    while ((await centre.store.factsOf(id)).length === 0) {
      if (Date.now() > end) throw new Error(`centre did not handle ${id}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: AGENCIES, name: 'centre' });
    centreClient = await fed.connect('mac-centre');
    centre = await startCentre({ client: centreClient, reportEveryMs: 0, minPublicCount: 2 });
    for (const id of AGENCIES.slice(1)) {
      const client = await fed.connect(id);
      const inbox: ReceivedMessage[] = [];
      const receivable = new Set(client.consumerSpecs().map((s) => s.type));
      const types = ['CorrelationAlert', 'StrategicReport'].filter((t) => receivable.has(t));
      await client.consume((m) => void inbox.push(m), { types });
      parties.set(id, { client, inbox, alerts: () => inbox.filter((m) => m.type === 'CorrelationAlert') });
    }
  });
  afterAll(async () => {
    await centre?.stop();
    await fed?.stop();
  });

  const alertAbout = (id: string, ref: (m: ReceivedMessage) => boolean) => party(id).alerts().filter(ref);
  const names = (m: ReceivedMessage) => ((m.body.occurrences as { messageId: string }[] | undefined) ?? []).map((o) => o.messageId);

  it('links a vessel seen by two agencies: each gets its alert at its own tier, naming the other’s message it may see', async () => {
    const cg = await send(
      'xa-coast-guard',
      'IntelligenceReport',
      {
        summary: 'Fishing vessel with about 80 persons sighted heading north.',
        route: { origin: 'XZZ', destination: 'XAA', description: 'Port Zeta to the northern coast' },
        modusOperandi: ['overcrowded fishing vessel'],
        vessel: { name: 'Sea Star', imoNumber: 'IMO 9123456', kind: 'fishing vessel' },
        migrantsCount: 80,
        childrenCount: 12,
        location: 'Port Zeta',
        observedAt: new Date().toISOString(),
      },
      { caseRef: 'XA-CG-11' },
    );
    const xb = await send(
      'xb-police',
      'IntelligenceReport',
      {
        summary: 'Vessel known from an earlier landing.',
        route: { origin: 'XZZ', destination: 'XAA' },
        modusOperandi: ['overcrowded fishing vessel', 'fees paid in cash'],
        vessel: { name: 'SEA-STAR', imoNumber: '9123456' },
        entities: [{ kind: 'ENTITY_KIND_PERSON', value: 'Karim Tahiri', role: 'skipper', country: 'XZZ' }],
        location: 'Port Zeta',
      },
      { caseRef: 'XB-2026-5' },
      ['Karim Tahiri', 'TAHIRI'],
    );
    await handled(cg);
    await handled(xb);
    const imo = (m: ReceivedMessage) => m.body.matchedValue === '9123456';
    await until(() => alertAbout('xa-coast-guard', imo).length >= 1 && alertAbout('xb-police', imo).length >= 1, 8_000, 'IMO alerts');

    for (const [agency, own, other] of [
      ['xa-coast-guard', cg, xb],
      ['xb-police', xb, cg],
    ] as const) {
      const a = alertAbout(agency, imo).at(-1)!;
      expect(a.header.sender).toBe('mac-centre');
      expect(a.header.recipient).toBe(agency);
      expect(a.header.tier).toBe(receiveCeiling(centreClient.policy, agency, 'CorrelationAlert', 'direct')!.tier);
      expect(a.header.tier).toBe('operational');
      expect(a.body).toMatchObject({ matchedKind: 'ENTITY_KIND_VESSEL', matchedField: 'vessel.imoNumber', alertReference: expect.stringMatching(/^MAC-/) });
      expect(names(a).sort()).toEqual([own, other].sort());
      expect(a.body.assessment).not.toContain('Another agency');
      // Same route and place in both: the link is stronger.
      expect(a.body.assessment).toContain('route XZZ>XAA');
      expect(a.body.confidence).toBeGreaterThanOrEqual(95);
    }
    // Both copies of one link share its reference (the centre coordinates both sides).
    expect(alertAbout('xa-coast-guard', imo).at(-1)!.body.alertReference).toBe(alertAbout('xb-police', imo).at(-1)!.body.alertReference);
    // The vessel name, spelt differently, links too.
    await until(() => party('xb-police').alerts().some((m) => m.body.matchedValue === 'SEA STAR'));
    // The skipper's name was in xb-police's broadcast at the personal tier: the centre (operational) never saw it.
    expect(centre.stats.occurrences).toBeGreaterThan(0);
    expect(JSON.stringify(await centre.store.allEntities())).not.toContain('TAHIRI');
  });

  it('tells an agency only that another agency holds a matching record when it could not have received that record', async () => {
    const doc = await send(
      'xa-border-police',
      'DocumentReport',
      {
        documentNumber: 'XA 123-4567',
        issuingCountry: 'XAA',
        documentType: 'DOCUMENT_TYPE_PASSPORT',
        status: 'DOCUMENT_STATUS_FRAUDULENT',
        fraudKind: 'FRAUD_KIND_COUNTERFEIT',
        place: 'Airport North',
        holderName: 'Lena Marsh',
        holderNationality: 'XAA',
      },
      { caseRef: 'XA-2026-0042' },
      ['Lena Marsh'],
    );
    // Directed to the centre alone, at the personal tier: persons, phones, the informant's document.
    const intel = await send(
      'xb-police',
      'IntelligenceReport',
      {
        summary: 'Informant describes a document supplier working from Secret Cove.',
        entities: [
          { kind: 'ENTITY_KIND_DOCUMENT', value: 'xa1234567', role: 'document used by a smuggled migrant', country: 'XAA' },
          { kind: 'ENTITY_KIND_PHONE', value: '+999 555 0101', role: 'document supplier' },
          { kind: 'ENTITY_KIND_PERSON', value: 'Omar Veldt', role: 'document supplier', country: 'XZZ' },
        ],
        vessel: { imoNumber: 'IMO 9876543', name: 'Night Heron' },
        location: 'Secret Cove',
        sourceDescription: 'crew member',
      },
      { to: 'mac-centre', caseRef: 'XB-CASE-7' },
      ['Secret Cove', 'SECRET COVE', '9876543', 'Night Heron', 'NIGHT HERON', '+999 555 0101', '+9995550101', 'Omar Veldt', 'VELDT', 'informant', 'crew member'],
    );
    // The coast guard also tells the centre alone of the same phone.
    const cgIntel = await send(
      'xa-coast-guard',
      'IntelligenceReport',
      { summary: 'Phone found on a rubber dinghy.', entities: [{ kind: 'ENTITY_KIND_PHONE', value: '00999-555-0101', role: 'satellite phone' }], location: 'Beach 4' },
      { to: 'mac-centre', caseRef: 'XA-CG-12' },
      ['Beach 4', 'BEACH 4', '00999-555-0101'],
    );
    for (const id of [doc, intel, cgIntel]) await handled(id);

    const docLink = (m: ReceivedMessage) => m.body.matchedKind === 'ENTITY_KIND_DOCUMENT';
    await until(() => alertAbout('xa-border-police', docLink).length >= 1 && alertAbout('xb-police', docLink).length >= 1, 8_000, 'document alerts');
    // xa-border-police could not have received xb-police's report (addressed to the centre):
    // it learns that a matching record exists, not whose, nor anything of it.
    const toXa = alertAbout('xa-border-police', docLink).at(-1)!;
    expect(names(toXa)).toEqual([doc]);
    expect(toXa.body.matchedValue).toBe('XA1234567');
    expect(toXa.body.assessment).toContain('Another agency holds a matching record');
    expect(toXa.body.assessment).toContain('contact the centre');
    expect(toXa.header.causationId).toBe('');
    expect(toXa.header.caseRef).toBe('XA-2026-0042');
    const xaText = JSON.stringify({ h: toXa.header, b: toXa.body });
    for (const s of ['xb-police', intel, 'XB-CASE-7', 'Secret Cove', '9876543', '555', 'Omar', 'VELDT']) expect(xaText).not.toContain(s);
    // xb-police may see xa-border-police's broadcast report (its document number is operational): named.
    const toXb = alertAbout('xb-police', docLink).at(-1)!;
    expect(names(toXb).sort()).toEqual([doc, intel].sort());
    expect(toXb.body.matchedValue).toBe('XA1234567');
    expect(toXb.body.occurrences).toContainEqual(expect.objectContaining({ agency: 'xa-border-police', messageType: 'DocumentReport', caseRef: 'XA-2026-0042' }));
    expect(JSON.stringify(toXb.body)).not.toContain('Lena');

    // The phone: both records were addressed to the centre alone, and the value is personal —
    // each side is told of "another agency", and neither alert carries the number.
    const phone = (m: ReceivedMessage) => m.body.matchedKind === 'ENTITY_KIND_PHONE';
    await until(() => alertAbout('xa-coast-guard', phone).length >= 1 && alertAbout('xb-police', phone).length >= 1, 8_000, 'phone alerts');
    for (const [agency, own] of [
      ['xa-coast-guard', cgIntel],
      ['xb-police', intel],
    ] as const) {
      const a = alertAbout(agency, phone).at(-1)!;
      expect(names(a)).toEqual([own]);
      expect(a.body.matchedValue).toBeUndefined();
      expect(a.body.matchedField).toBe('entities.value');
      expect(a.body.assessment).toContain('Another agency holds a matching record');
      expect(JSON.stringify({ h: a.header, b: a.body })).not.toMatch(/555|0101/);
    }
    expect(centre.stats.withheld).toBeGreaterThanOrEqual(3);
  });

  it('never forwards data above a recipient’s tier: every alert copy is within its tier and holds nothing of a message its recipient could not receive', async () => {
    const policy = centreClient.policy;
    let checked = 0;
    for (const [agency, p] of parties) {
      for (const a of p.alerts()) {
        checked++;
        // The copy: at the recipient's ceiling, no field above it.
        const info = fed.catalog.get('CorrelationAlert');
        expect(a.header.tier).toBe(receiveCeiling(policy, agency, 'CorrelationAlert', 'direct')!.tier);
        expect(fieldsAboveTier(info, fromJson(info, a.body), a.header.tier)).toEqual([]);
        // Its contents: nothing from a message the recipient could not have received.
        const text = JSON.stringify({ header: a.header, body: a.body });
        for (const m of sent) {
          if (m.sender === agency) continue;
          const receivable = (m.to === 'all' && receiveCeiling(policy, agency, m.type, 'broadcast')) || m.to === agency;
          const leaked = receivable ? m.secrets.filter((s) => s !== m.id && s.length > 3 && /[a-z]{4}/i.test(s) && !/^X[AB]-/.test(s)) : m.secrets;
          for (const s of leaked) expect(text, `${agency} got "${s}" from ${m.sender}'s ${m.type}`).not.toContain(s);
          if (!receivable) expect(names(a)).not.toContain(m.id);
        }
        // Every named occurrence of another agency is a broadcast the recipient may receive.
        for (const o of a.body.occurrences as { messageId: string; agency: string; messageType: string }[]) {
          if (o.agency === agency) continue;
          const m = sent.find((s) => s.id === o.messageId)!;
          expect(m.to).toBe('all');
          expect(receiveCeiling(policy, agency, o.messageType, 'broadcast')).toBeDefined();
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(6);
    // The NGO is never an involved party and may not receive alerts at all.
    expect(party('xa-ngo-harbour').alerts()).toEqual([]);
  });

  it('is restart-safe: a message after a restart still correlates with one seen before it', async () => {
    const before = await send('xa-border-police', 'DocumentReport', {
      documentNumber: 'XA7770001',
      issuingCountry: 'XAA',
      documentType: 'DOCUMENT_TYPE_IDENTITY_CARD',
      status: 'DOCUMENT_STATUS_STOLEN',
    });
    await handled(before);
    const processedBefore = centre.stats.processed;
    expect(processedBefore).toBeGreaterThan(0);
    await centre.stop();
    await centreClient.close();

    // While the centre is down, another agency's report arrives: it waits in the centre's consumer.
    const during = await send(
      'xb-police',
      'IntelligenceReport',
      { summary: 'Stolen ID card used at the ferry.', entities: [{ kind: 'ENTITY_KIND_DOCUMENT', value: 'XA-777-0001' }] },
      { to: 'mac-centre', caseRef: 'XB-CASE-9' },
    );
    centreClient = await fed.connect('mac-centre');
    centre = await startCentre({ client: centreClient, reportEveryMs: 0, minPublicCount: 2 });
    await handled(during);
    const link = (m: ReceivedMessage) => m.body.matchedValue === 'XA7770001';
    await until(() => alertAbout('xa-border-police', link).length >= 1 && alertAbout('xb-police', link).length >= 1, 8_000, 'alerts after restart');
    expect(names(alertAbout('xa-border-police', link)[0]!)).toEqual([before]);
    expect(names(alertAbout('xb-police', link)[0]!).sort()).toEqual([before, during].sort());

    // And one sent after the restart correlates with both.
    const after = await send('xa-coast-guard', 'IntelligenceReport', { summary: 'ID card found on the beach.', entities: [{ kind: 'ENTITY_KIND_DOCUMENT', value: 'xa 7770001' }] }, { to: 'mac-centre' });
    await handled(after);
    // The coast guard may receive neither the document report nor xb-police's report to the centre,
    // and its own value is personal: it learns only that two other agencies hold matching records.
    const mine = (m: ReceivedMessage) => names(m).includes(after);
    await until(() => alertAbout('xa-coast-guard', mine).length >= 1, 8_000, 'third agency alert');
    const third = alertAbout('xa-coast-guard', mine)[0]!;
    expect(names(third)).toEqual([after]);
    expect(third.body.matchedValue).toBeUndefined();
    expect(third.body.assessment).toContain('2 other agencies hold matching records');
    // xb-police is told again: the broadcast it may see is named, the coast guard's report is not.
    await until(() => alertAbout('xb-police', link).length >= 2, 8_000, 'xb-police told of the third record');
    const again = alertAbout('xb-police', link)[1]!;
    expect(names(again).sort()).toEqual([before, during].sort());
    expect(again.body.assessment).toContain('Another agency holds a matching record');
    expect(JSON.stringify(again)).not.toContain('xa-coast-guard');
    // Nothing handled before the restart was handled again.
    expect(centre.stats.processed).toBe(2);
  });

  it('publishes a strategic report: operational copies with routes and modus operandi, public copies with aggregates only', async () => {
    const r = await centre.report({ publish: true, periodMs: 7 * 86_400_000 });
    expect(r.figures.sourceMessages.count).toBeGreaterThanOrEqual(7);
    expect(r.figures.dimensions.route).toContainEqual(expect.objectContaining({ label: 'XZZ>XAA', count: 2 }));
    expect(r.figures.dimensions.modusOperandi).toContainEqual(expect.objectContaining({ label: 'overcrowded fishing vessel', count: 2 }));
    expect(r.figures.dimensions.documentType).toContainEqual(expect.objectContaining({ label: 'PASSPORT', count: 1 }));
    expect(r.figures.migrants.count).toBe(80);
    expect(r.figures.linksTotal.count).toBeGreaterThanOrEqual(4);
    const id = r.published!;
    await until(() => party('xa-ngo-harbour').inbox.some((m) => m.header.id === id) && party('xa-border-police').inbox.some((m) => m.header.id === id));
    const ngo = party('xa-ngo-harbour').inbox.find((m) => m.header.id === id)!;
    const police = party('xa-border-police').inbox.find((m) => m.header.id === id)!;
    expect(ngo.header.tier).toBe('public');
    expect(ngo.body.routes).toBeUndefined();
    expect(ngo.body.modusOperandiTrends).toBeUndefined();
    expect(ngo.body.networkAnalysis).toBeUndefined();
    expect(ngo.body.summary).toContain('source messages');
    expect(police.header.tier).toBe('operational');
    expect(police.body.routes).toContainEqual(expect.objectContaining({ origin: 'XZZ', destination: 'XAA' }));
    // No identifier, name or agency pair in any copy.
    for (const copy of [ngo, police]) expect(JSON.stringify(copy.body)).not.toMatch(/9123456|XA1234567|Tahiri|Veldt|xb-police|xa-border-police/);
    // Small cells are withheld from the public indicators (document type PASSPORT: 1 < 2).
    const indicatorNames = (ngo.body.indicators as { name: string }[]).map((i) => i.name);
    expect(indicatorNames).toContain('source messages');
    expect(indicatorNames).not.toContain('document type: PASSPORT');
  });

  describe('liaison centre report', () => {
    let work: string;
    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), 'liaison-centre-'));
    });
    afterAll(async () => rm(work, { recursive: true, force: true }));

    async function run(argv: string[]) {
      const cmd = CENTRE_COMMANDS.find((c) => c.path.join(' ') === 'centre report')!;
      const out: string[] = [];
      const err: string[] = [];
      const io: CliIo = { out: (l) => out.push(l), err: (l) => err.push(l), interrupted: new Promise(() => undefined) };
      const code = await cmd.run(parseCommandArgs(cmd, argv), io);
      return { code, out: out.join('\n'), err: err.join('\n') };
    }

    it('prints JSON by default: the StrategicReport body and the figures', async () => {
      const r = await run(['--as', fed.agencyDirs['mac-centre']!, '--server', fed.server.url]);
      expect(r.code).toBe(0);
      const parsed = JSON.parse(r.out) as { report: Record<string, unknown>; figures: { sourceMessages: { count: number }; dimensions: Record<string, { label: string }[]> } };
      expect(parsed.report.title).toMatch(/^Multiagency centre strategic report/);
      expect(parsed.figures.sourceMessages.count).toBeGreaterThanOrEqual(7);
      expect(Object.keys(parsed.figures.dimensions)).toEqual(['route', 'nationality', 'documentType', 'month', 'modusOperandi', 'messageType']);
      expect(parsed.figures.dimensions.month.at(-1)!.label).toBe(new Date().toISOString().slice(0, 7));
    });

    it('writes CSV with a row per figure', async () => {
      const file = join(work, 'report.csv');
      const r = await run(['--as', fed.agencyDirs['mac-centre']!, '--format', 'csv', '--out', file]);
      expect(r.code).toBe(0);
      expect(r.out).toContain(`wrote csv report to ${file}`);
      const lines = (await readFile(file, 'utf8')).trim().split('\n');
      expect(lines[0]).toBe('section,label,count,previous,change_percent');
      expect(lines).toContain('route,XZZ>XAA,2,0,100');
      expect(lines).toContain('modusOperandi,overcrowded fishing vessel,2,0,100');
      expect(lines.some((l) => l.startsWith('total,source messages,'))).toBe(true);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
    });

    it('writes self-contained HTML (no script, no external resource) and can publish', async () => {
      const file = join(work, 'report.html');
      const r = await run(['--as', fed.agencyDirs['mac-centre']!, '--format', 'html', '--out', file, '--publish']);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/published StrategicReport .*public: .*xa-ngo-harbour/);
      const html = await readFile(file, 'utf8');
      expect(html.startsWith('<!doctype html>')).toBe(true);
      expect(html).toContain('<style>');
      expect(html).toContain('XZZ&gt;XAA');
      expect(html).not.toMatch(/<script|<link|src=|href=|@import|url\(/i);
    });

    it('refuses an unknown format and an agency that keeps no correlations', async () => {
      await expect(run(['--as', fed.agencyDirs['mac-centre']!, '--format', 'pdf'])).rejects.toMatchObject({ code: 'ERR_USAGE' });
      await expect(run(['--as', fed.agencyDirs['xa-border-police']!])).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    });
  });
});
