import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../services/cli/main.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { IndexDocumentStore } from '../services/registry/index-store.ts';
import { createKeyedHasher } from '../services/registry/index/index.ts';
import { columnMap, CsvParser, parseCsv, reportBody } from '../services/registry/import/csv.ts';
import { importCsv, registryAgency } from '../services/registry/import/import.ts';
import { PersonAlerts } from '../services/registry/persons.ts';
import { startRegistry, type Registry } from '../services/registry/service.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';

const until = async (pred: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return pred();
};

const HEADER = 'document_number,issuing_country,document_type,status';

describe('CSV parsing (RFC 4180) and row validation', () => {
  it('parses quotes, escaped quotes, commas and line breaks in quotes, CRLF and LF, a BOM; lines are file lines', () => {
    const text = '\uFEFFa,b,c\r\n1,"x, y","he said ""hi"""\r\n\r\n2,"two\r\nlines",z\n3,,"" \n4,5,6';
    expect(parseCsv(text)).toEqual([
      { line: 1, fields: ['a', 'b', 'c'] },
      { line: 2, fields: ['1', 'x, y', 'he said "hi"'] },
      { line: 4, fields: ['2', 'two\r\nlines', 'z'] },
      { line: 6, fields: ['3', '', ' '], error: 'unexpected text after a closing quote in field 3' },
      { line: 7, fields: ['4', '5', '6'] },
    ]);
  });

  it('gives the same records whatever the chunk boundaries', () => {
    const text = '\uFEFFa,b\r\n"q ""1""","x\ny"\r\nplain,row\r\n"last",1';
    const whole = parseCsv(text);
    for (let cut = 0; cut <= text.length; cut++) {
      const p = new CsvParser();
      expect([...p.push(text.slice(0, cut)), ...p.push(text.slice(cut)), ...p.end()]).toEqual(whole);
    }
    const p = new CsvParser();
    const oneByOne = [...text].flatMap((ch) => p.push(ch));
    expect([...oneByOne, ...p.end()]).toEqual(whole);
  });

  it('an unterminated quote is a malformed record, not a crash', () => {
    expect(parseCsv('a,b\n1,"open\n2,3\n')).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['1', 'open\n2,3\n'], error: 'unterminated quoted field' },
    ]);
  });

  it('header names are case-insensitive and in any order; unknown, duplicate and missing columns are named', () => {
    const cols = columnMap({ line: 1, fields: ['Status', 'ISSUING_COUNTRY', ' document_number ', 'document_type', 'holder_name'] });
    expect(reportBody({ line: 2, fields: ['stolen', 'xaa', 'xa 123-456', 'identity card', 'Amir Haddad'] }, cols)).toEqual({
      documentNumber: 'XA123456',
      issuingCountry: 'XAA',
      documentType: 'DOCUMENT_TYPE_IDENTITY_CARD',
      status: 'DOCUMENT_STATUS_STOLEN',
      holderName: 'Amir Haddad',
    });
    const err = (() => {
      try {
        columnMap({ line: 1, fields: [...HEADER.split(','), 'colour', 'Shoe_Size', 'status'] });
      } catch (e) {
        return e;
      }
    })();
    expect(isLiaisonError(err) && err.code).toBe('ERR_BODY_INVALID');
    expect((err as Error).message).toContain('unknown columns colour, Shoe_Size');
    expect((err as Error).message).toContain('duplicate column status');
    expect(() => columnMap({ line: 1, fields: ['document_number', 'status'] })).toThrow(/missing columns issuing_country, document_type/);
  });

  it('rows are validated: ICAO code, number, status, dates, field count; enum names and friendly values accepted', () => {
    const cols = columnMap({ line: 1, fields: [...HEADER.split(','), 'expiry_date', 'holder_nationality'] });
    const row = (...fields: string[]) => reportBody({ line: 2, fields }, cols);
    expect(row('P1', 'D', 'DOCUMENT_TYPE_PASSPORT', 'DOCUMENT_STATUS_LOST', '2030-01-31', 'deu')).toMatchObject({
      issuingCountry: 'D',
      documentType: 'DOCUMENT_TYPE_PASSPORT',
      status: 'DOCUMENT_STATUS_LOST',
      expiryDate: '2030-01-31',
      holderNationality: 'D',
    });
    expect(row('P1', 'XAA', '', 'fraudulent', '', '')).toEqual({ documentNumber: 'P1', issuingCountry: 'XAA', status: 'DOCUMENT_STATUS_FRAUDULENT' });
    expect(() => row('P1', 'QQQ', 'passport', 'stolen', '', '')).toThrow(/issuing_country: "QQQ" is not an ICAO/);
    expect(() => row(' - ', 'XAA', 'passport', 'stolen', '', '')).toThrow(/document number: empty/);
    expect(() => row('P1', 'XAA', 'passport', 'misplaced', '', '')).toThrow(/status: "misplaced" is not one of lost, stolen/);
    expect(() => row('P1', 'XAA', 'passport', '', '', '')).toThrow(/status: empty/);
    expect(() => row('P1', 'XAA', 'canoe', 'stolen', '', '')).toThrow(/document_type: "canoe"/);
    expect(() => row('P1', 'XAA', 'passport', 'stolen', '31/01/2030', '')).toThrow(/expiry_date/);
    expect(() => reportBody({ line: 9, fields: ['P1', 'XAA'] }, cols)).toThrow(/2 fields; the header has 6/);
  });
});

describe('bulk import into a live registry (signed batches over a real nats-server)', () => {
  let fed: TestFederation;
  let registry: Registry;
  let police: LiaisonClient;
  let xbPolice: LiaisonClient;
  let work: string;
  const batchesSeen: ReceivedMessage[] = [];
  const refusals: ReceivedMessage[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'liaison-import-'));
    fed = await createTestFederation({ agencies: ['xa-border-police', 'xb-police', 'xc-ncb'], name: 'registry-import' });
    const ncb = await fed.connect('xc-ncb');
    const key = randomBytes(32);
    registry = await startRegistry({
      client: ncb,
      store: new IndexDocumentStore(key),
      persons: new PersonAlerts(createKeyedHasher(key)),
      observe: (m) => void (m.type === 'DocumentReportBatch' && batchesSeen.push(m)),
    });
    police = await fed.connect('xa-border-police');
    xbPolice = await fed.connect('xb-police');
    await police.consume((m) => void refusals.push(m), { types: ['RegistryRefusal'] });
  });
  afterAll(async () => {
    await registry?.stop();
    await fed?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('the registry is found from the policy (the agency that serves DocumentCheckRequest)', () => {
    expect(registryAgency(police.policy)).toBe('xc-ncb');
  });

  it('2 000 good rows and 3 bad ones: the good go in ⌈2000/batch⌉ signed batches, the bad are reported by line, and checks hit', async () => {
    const lines = [`${HEADER},holder_name,remarks`];
    const numbers: string[] = [];
    for (let i = 0; i < 2_000; i++) {
      numbers.push(`XB${String(i).padStart(7, '0')}`);
      lines.push(`xb ${String(i).padStart(7, '0')},XAA,passport,${i % 3 === 0 ? 'lost' : 'stolen'},"Haddad, Amir ${i}",row ${i}`);
      if (i === 10) lines.push('XQ1,ZZZ,passport,stolen,,'); // bad ICAO code
      if (i === 700) lines.push(' -- ,XAA,passport,stolen,,'); // empty number
      if (i === 1500) lines.push('XQ3,XAA,passport,misplaced,,'); // unknown status
    }
    const file = join(work, 'export.csv');
    await writeFile(file, lines.join('\r\n') + '\r\n');
    const before = registry.stats.reports;
    const progress: { imported: number; batches: number }[] = [];
    const r = await importCsv({ client: police, file, batchSize: 300, onProgress: (p) => progress.push(p) });
    expect(r).toMatchObject({ rows: 2_003, imported: 2_000, batches: Math.ceil(2_000 / 300), to: 'xc-ncb' });
    // Progress after every stored batch, counting up to the result.
    expect(progress.map((p) => p.batches)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(progress.at(-1)!.imported).toBe(2_000);
    // Header = line 1; row i is on line i + 2 plus the bad rows before it.
    expect(r.bad.map((b) => b.line)).toEqual([13, 704, 1505]);
    expect(r.bad[0]!.error).toContain('"ZZZ" is not an ICAO');
    expect(r.bad[1]!.error).toContain('document number: empty');
    expect(r.bad[2]!.error).toContain('status: "misplaced"');

    expect(await until(() => registry.stats.reports - before >= 2_000)).toBe(true);
    const mine = batchesSeen.filter((m) => m.body.batchReference === r.batchReference);
    expect(mine).toHaveLength(7);
    for (const m of mine) {
      expect(m.header.sender).toBe('xa-border-police');
      expect(m.header.recipient).toBe('xc-ncb');
      expect(m.kid).toBeTruthy();
      expect(m.body.source).toBe('export.csv');
    }
    expect(mine.reduce((n, m) => n + (m.body.reports as unknown[]).length, 0)).toBe(2_000);
    // The batch that spans a bad row says where each report came from.
    const spanning = mine.find((m) => Number(m.body.firstLine) === 2)!;
    expect((spanning.body.lines as number[]).slice(9, 12)).toEqual([11, 12, 14]);

    for (const i of [0, 11, 701, 1999]) {
      const res = await xbPolice.request('DocumentCheckRequest', { documentNumber: numbers[i]!, issuingCountry: 'XAA' });
      expect(res.body.outcome).toBe('CHECK_OUTCOME_HIT');
      expect(res.body.status).toBe(i % 3 === 0 ? 'DOCUMENT_STATUS_LOST' : 'DOCUMENT_STATUS_STOLEN');
      expect(mine.map((m) => m.header.id)).toContain(res.body.recordReference);
    }
    const badOne = await xbPolice.request('DocumentCheckRequest', { documentNumber: 'XQ3', issuingCountry: 'XAA' });
    expect(badOne.body.outcome).toBe('CHECK_OUTCOME_NO_HIT');
  });

  it("rows of another issuing country inside a batch are refused by the registry, naming their lines; the rest go in", async () => {
    const file = join(work, 'mixed.csv');
    const rows = ['XM0001,XAA', 'XM0002,XBB', 'XM0003,XAA', 'XM0004,XAA', 'XM0005,XCC', 'XM0006,XAA'].map((r) => `${r},passport,stolen`);
    await writeFile(file, [HEADER, ...rows].join('\n'));
    const refusedBefore = registry.stats.refused;
    const r = await importCsv({ client: police, file });
    expect(r).toMatchObject({ rows: 6, imported: 6, batches: 1, bad: [] });
    const batch = await (async () => {
      await until(() => batchesSeen.some((m) => m.body.batchReference === r.batchReference));
      return batchesSeen.find((m) => m.body.batchReference === r.batchReference)!;
    })();
    expect(await until(() => refusals.some((m) => m.body.refusedMessageId === batch.header.id))).toBe(true);
    const refusal = refusals.find((m) => m.body.refusedMessageId === batch.header.id)!;
    expect(refusal.header.sender).toBe('xc-ncb');
    expect(refusal.body.code).toBe('ERR_NOT_ISSUING_COUNTRY');
    expect(refusal.body.refusedType).toBe('liaison.v1.DocumentReportBatch');
    const reason = String(refusal.body.reason);
    expect(reason).toContain('2 of 6 records');
    expect(reason).toContain('line 3: only an agency of XBB');
    expect(reason).toContain('line 6: only an agency of XCC');
    expect(reason).not.toContain('line 2:');
    expect(registry.stats.refused).toBe(refusedBefore + 1);
    for (const [n, c, outcome] of [
      ['XM0001', 'XAA', 'CHECK_OUTCOME_HIT'],
      ['XM0006', 'XAA', 'CHECK_OUTCOME_HIT'],
      ['XM0002', 'XBB', 'CHECK_OUTCOME_NO_HIT'],
      ['XM0005', 'XCC', 'CHECK_OUTCOME_NO_HIT'],
    ] as const) {
      expect((await xbPolice.request('DocumentCheckRequest', { documentNumber: n, issuingCountry: c })).body.outcome).toBe(outcome);
    }
  });

  it('a batch over the 1 MiB max payload is split (halved until it fits), never truncated', async () => {
    const file = join(work, 'large.csv');
    const remarks = 'r'.repeat(6_000);
    const rows = Array.from({ length: 400 }, (_, i) => `XL${String(i).padStart(6, '0')},XAA,passport,stolen,${remarks}`);
    await writeFile(file, [`${HEADER},remarks`, ...rows].join('\n'));
    const before = registry.stats.reports;
    const r = await importCsv({ client: police, file, batchSize: 400 });
    expect(r.imported).toBe(400);
    expect(r.batches).toBeGreaterThanOrEqual(4); // 400 × 6 kB ≈ 2.4 MB → at least 4 messages under 1 MiB
    expect(r.bad).toEqual([]);
    expect(await until(() => registry.stats.reports - before >= 400)).toBe(true);
    const mine = batchesSeen.filter((m) => m.body.batchReference === r.batchReference);
    expect(mine.reduce((n, m) => n + (m.body.reports as unknown[]).length, 0)).toBe(400);
    expect((await xbPolice.request('DocumentCheckRequest', { documentNumber: 'XL000399', issuingCountry: 'XAA' })).body.outcome).toBe('CHECK_OUTCOME_HIT');
  });

  it('liaison registry import prints the counts and the bad rows grouped by reason; exit 0 with bad rows, 1 when nothing imports, 2 on usage', async () => {
    const out: string[] = [];
    const io = { out: (l: string) => void out.push(l), err: (l: string) => void out.push(l), interrupted: new Promise<void>(() => undefined) };
    const dir = fed.agencyDirs['xa-border-police']!;
    const file = join(work, 'cli.csv');
    await writeFile(file, [HEADER, 'XC0001,XAA,passport,stolen', 'XC0002,XAA,passport,gone', 'XC0003,XAA,visa,lost', '"XC0004",XAA,PASSPORT,DOCUMENT_STATUS_CANCELLED'].join('\n'));
    expect(await runCli(['registry', 'import', '--as', dir, '--csv', file, '--batch', '2'], io)).toBe(0);
    expect(out[0]).toMatch(/^imported 3 of 4 rows in 2 signed batches to xc-ncb \(.* s, \d+ rows\/s\); 1 bad rows$/);
    expect(out[1]).toBe('     1 × status: "gone" is not one of lost, stolen, fraudulent, recovered, cancelled — line 3');

    out.length = 0;
    expect(await runCli(['registry', 'import', '--as', dir, '--csv', file, '--json'], io)).toBe(0);
    expect(JSON.parse(out[0]!)).toMatchObject({ rows: 4, imported: 3, batches: 1, bad: [{ line: 3 }] });

    const allBad = join(work, 'bad.csv');
    await writeFile(allBad, [HEADER, 'XC0009,QQQ,passport,stolen'].join('\n'));
    out.length = 0;
    expect(await runCli(['registry', 'import', '--as', dir, '--csv', allBad], io)).toBe(1);
    expect(out).toContain('     1 × issuing_country: "QQQ" is not an ICAO Doc 9303 country code — line 2');

    // 30 bad rows of two reasons: two lines with counts and the first five lines each; --errors-file has all 30.
    const many = join(work, 'many.csv');
    const rows = Array.from({ length: 30 }, (_, i) => (i % 3 === 2 ? `XM${i},XAA,passport,stolen,2024-13-0${(i % 9) + 1}` : `XM${i},XAA,passport,gone${i},`));
    await writeFile(many, [`${HEADER},issue_date`, ...rows, 'XM99,XAA,passport,stolen,'].join('\n'));
    const errorsFile = join(work, 'errors.txt');
    out.length = 0;
    expect(await runCli(['registry', 'import', '--as', dir, '--csv', many, '--errors-file', errorsFile], io)).toBe(0);
    expect(out[1]).toBe('    20 × status: "gone0" is not one of lost, stolen, fraudulent, recovered, cancelled (and alike) — lines 2, 3, 5, 6, 8, …');
    expect(out[2]).toBe('    10 × issue_date: "2024-13-03" is not a date (YYYY-MM-DD) (and alike) — lines 4, 7, 10, 13, 16, …');
    expect(out[3]).toBe(`every bad row: ${errorsFile}`);
    const all = (await readFile(errorsFile, 'utf8')).trim().split('\n');
    expect(all).toHaveLength(30);
    expect(all[29]).toBe('line 31: issue_date: "2024-13-03" is not a date (YYYY-MM-DD)');

    const badHeader = join(work, 'header.csv');
    await writeFile(badHeader, `${HEADER},colour\nXC0010,XAA,passport,stolen,red\n`);
    out.length = 0;
    expect(await runCli(['registry', 'import', '--as', dir, '--csv', badHeader], io)).toBe(1);
    expect(out.join('\n')).toContain('unknown column colour');

    expect(await runCli(['registry', 'import', '--as', dir], io)).toBe(2);
    expect(await runCli(['registry', 'import', '--as', dir, '--csv', join(work, 'missing.csv')], io)).toBe(2);
    expect(await runCli(['registry', 'import', '--as', dir, '--csv', file, '--batch', '0'], io)).toBe(2);
  });
});
