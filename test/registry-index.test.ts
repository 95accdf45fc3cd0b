import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isLiaisonError } from '../services/sdk/errors.ts';
import {
  DocumentIndex,
  PersonIndex,
  createKeyedHasher,
  decodeDocumentSnapshot,
  decodePersonSnapshot,
  encodeDocumentSnapshot,
  encodePersonSnapshot,
  normaliseBirthDate,
  normaliseCountry,
  normaliseDocumentNumber,
  normaliseName,
  readDocumentSnapshotFile,
  writeDocumentSnapshotFile,
  type DocumentStatus,
  type KeyedHasher,
} from '../services/registry/index/index.ts';

const KEY = Buffer.alloc(32, 7);
const hasher = createKeyedHasher(KEY);

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isLiaisonError(err) ? err.code : `not a LiaisonError: ${String(err)}`;
  }
  return undefined;
}

function stolen(number: string, extra: Partial<{ country: string; status: DocumentStatus; owner: string; seq: number }> = {}) {
  return { country: 'XAA', number, type: 'passport' as const, status: 'stolen' as const, owner: 'xa-border-police', seq: 1, ...extra };
}

/** A deterministic pseudo-random generator (xorshift32) so failures reproduce. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

describe('normalisation', () => {
  it('document numbers ignore case, spaces, hyphens, dots, slashes and MRZ fillers', () => {
    for (const raw of ['xa4417702', 'XA 441 7702', 'XA-441-7702', 'xa.441.7702', 'XA/4417702', 'XA4417702<<', ' X A\t4417702 ']) {
      expect(normaliseDocumentNumber(raw), raw).toBe('XA4417702');
    }
  });

  it('document numbers map full-width and Cyrillic/Greek look-alike characters to Latin', () => {
    expect(normaliseDocumentNumber('ＸＡ４４１７７０２')).toBe('XA4417702');
    expect(normaliseDocumentNumber('ХА4417702')).toBe('XA4417702'); // Cyrillic Х and А
    expect(normaliseDocumentNumber('ΑΒ123')).toBe('AB123'); // Greek Α and Β
  });

  it('empty, over-long or non-Latin document numbers are refused with ERR_BODY_INVALID', () => {
    expect(code(() => normaliseDocumentNumber(' -./ '))).toBe('ERR_BODY_INVALID');
    expect(code(() => normaliseDocumentNumber('A'.repeat(41)))).toBe('ERR_BODY_INVALID');
    expect(code(() => normaliseDocumentNumber('A'.repeat(40)))).toBeUndefined();
    expect(code(() => normaliseDocumentNumber('ЖZ123'))).toBe('ERR_BODY_INVALID');
  });

  it('country codes: ISO alpha-3, ICAO specials and the X?? range are accepted; DEU and D<< become D', () => {
    for (const c of ['FRA', 'GBR', 'GBD', 'UNO', 'XXA', 'EUE', 'RKS', 'XAA', 'XBB', 'XCC']) expect(normaliseCountry(c)).toBe(c);
    expect(normaliseCountry('fra')).toBe('FRA');
    expect(normaliseCountry('D<<')).toBe('D');
    expect(normaliseCountry('DEU')).toBe('D');
  });

  it('invalid country codes are refused with ERR_BODY_INVALID', () => {
    for (const c of ['', 'ZZZ', 'QQQ', 'FR', 'FRAN', 'F1A', 'AAA']) expect(code(() => normaliseCountry(c)), c).toBe('ERR_BODY_INVALID');
  });

  it('names lose diacritics, case, punctuation and extra spaces; Cyrillic and Greek are transliterated per ICAO 9303', () => {
    expect(normaliseName('  José   María  Núñez-García ').map((t) => t.normalised)).toEqual(['JOSE', 'MARIA', 'NUNEZ', 'GARCIA']);
    expect(normaliseName("O'Brien").map((t) => t.normalised)).toEqual(['OBRIEN']);
    expect(normaliseName('Юрий Щербаков').map((t) => t.normalised)).toEqual(['IURII', 'SHCHERBAKOV']);
    expect(normaliseName('Γιώργος Θεοδώρου').map((t) => t.normalised)).toEqual(['GIORGOS', 'THEODOROU']);
    expect(normaliseName('Łukasz Müßig').map((t) => t.normalised)).toEqual(['LUKASZ', 'MUSSIG']);
  });

  it('transliteration variants share one canonical key; different names do not', () => {
    const key = (s: string) => normaliseName(s).map((t) => t.canonical).join(' ');
    for (const v of ['Mohammed', 'Mohamed', 'Muhammad', 'Mohammad', 'Muhammed', 'MOHD']) expect(key(v), v).toBe(key('Muhammad'));
    for (const v of ['Youssef', 'Yusuf', 'Yousef', 'Youssouf']) expect(key(v), v).toBe(key('Yusuf'));
    for (const v of ['Abdul Rahman', 'Abd al-Rahman', 'Abdel Rahman', 'Abdulrahman', 'Abd-el-Rehman']) expect(key(v), v).toBe(key('Abdul Rahman'));
    expect(key('Al Hassan')).toBe(key('Al-Hasan'));
    expect(key('Sergey')).toBe(key('Сергей'));
    expect(key('Muhammad')).not.toBe(key('Mahmoud'));
    expect(key('Yusuf')).not.toBe(key('Yunus'));
  });

  it('birth dates may be partial; impossible dates are refused', () => {
    expect(normaliseBirthDate('1985')).toEqual({ year: 1985 });
    expect(normaliseBirthDate('1985-03')).toEqual({ year: 1985, month: 3 });
    expect(normaliseBirthDate('1984-02-29')).toEqual({ year: 1984, month: 2, day: 29 });
    for (const bad of ['1985-02-29', '1985-13', '85-01-01', '1985/01/01', '']) expect(code(() => normaliseBirthDate(bad)), bad).toBe('ERR_BODY_INVALID');
  });
});

describe('keyed hash', () => {
  it('differs by key, is stable for one key, and never contains the plaintext number', () => {
    const other = createKeyedHasher(Buffer.alloc(32, 8));
    const a = hasher.document('XAA', 'XA4417702');
    expect(hasher.document('XAA', 'XA4417702')).toEqual(a);
    expect(other.document('XAA', 'XA4417702')).not.toEqual(a);
    expect(hasher.document('XBB', 'XA4417702')).not.toEqual(a);
    const bytes = Buffer.alloc(9);
    bytes.writeUInt32BE(a.hi, 0);
    bytes.writeUInt32BE(a.lo, 4);
    bytes[8] = a.check;
    expect(bytes.includes(Buffer.from('4417702'))).toBe(false);
    expect(JSON.stringify(a)).not.toContain('4417702');
    expect(hasher.fingerprint).not.toBe(other.fingerprint);
  });

  it('a key of the wrong length is refused with ERR_CONFIG_INVALID', () => {
    expect(code(() => createKeyedHasher(new Uint8Array(16)))).toBe('ERR_CONFIG_INVALID');
  });

  it('records equal in the 64-bit hash but not in the check byte stay two records', () => {
    const index = new DocumentIndex({ hasher });
    const h = { hi: 0x01020304, lo: 0x05060708, check: 1 };
    const twin = { ...h, check: 2 };
    expect(index.upsertHashed(h, { type: 'passport', status: 'stolen', owner: 'a', seq: 1 })).toBe('added');
    expect(index.upsertHashed(twin, { type: 'visa', status: 'lost', owner: 'b', seq: 2 })).toBe('added');
    expect(index.lookupHashed(h)?.owner).toBe('a');
    expect(index.lookupHashed(twin)?.owner).toBe('b');
    expect(index.lookupHashed({ ...h, check: 3 })).toBeUndefined();
  });
});

describe('document index', () => {
  it('a reported document hits whatever its spelling; an unreported one does not', () => {
    const index = new DocumentIndex({ hasher });
    expect(index.upsert(stolen('XA4417702', { seq: 42 }))).toBe('added');
    expect(index.lookup('xaa', 'xa-441 7702')).toEqual({ hit: true, status: 'stolen', type: 'passport', owner: 'xa-border-police', seq: 42 });
    expect(index.lookup('XAA', 'XA4417703')).toBeUndefined();
    expect(index.lookup('XBB', 'XA4417702')).toBeUndefined();
  });

  it('recovered and cancelled documents stop hitting immediately but stay visible with their status', () => {
    const index = new DocumentIndex({ hasher });
    index.upsert(stolen('XA1'));
    index.upsert(stolen('XA2'));
    expect(index.setStatus('XAA', 'XA1', 'recovered', 9)).toBe('updated');
    expect(index.lookup('XAA', 'XA1')).toMatchObject({ hit: false, status: 'recovered', seq: 9 });
    index.upsert(stolen('XA2', { status: 'cancelled', seq: 10 }));
    expect(index.lookup('XAA', 'XA2')).toMatchObject({ hit: false, status: 'cancelled', seq: 10 });
    expect(index.setStatus('XAA', 'XA1', 'recovered')).toBe('unchanged');
    expect(index.setStatus('XAA', 'XA9', 'recovered')).toBe('missing');
    expect(index.setStatus('XAA', 'XA1', 'stolen')).toBe('updated');
    expect(index.lookup('XAA', 'XA1')?.hit).toBe(true);
  });

  it('a duplicate report is idempotent and keeps the first report sequence', () => {
    const index = new DocumentIndex({ hasher });
    expect(index.upsert(stolen('XA1', { seq: 5 }))).toBe('added');
    expect(index.upsert(stolen('XA-1', { seq: 6 }))).toBe('unchanged');
    expect(index.size).toBe(1);
    expect(index.lookup('XAA', 'XA1')?.seq).toBe(5);
    expect(index.upsert(stolen('XA1', { status: 'fraudulent', seq: 7 }))).toBe('updated');
    expect(index.lookup('XAA', 'XA1')).toMatchObject({ status: 'fraudulent', seq: 7 });
  });

  it('records the owner agency and answers ownerOf', () => {
    const index = new DocumentIndex({ hasher });
    index.upsert(stolen('XA1', { owner: 'xa-border-police' }));
    index.upsert(stolen('XB1', { country: 'XBB', owner: 'xb-interior' }));
    expect(index.ownerOf('XAA', 'XA1')).toBe('xa-border-police');
    expect(index.ownerOf('XBB', 'XB1')).toBe('xb-interior');
    expect(index.ownerOf('XAA', 'NOPE')).toBeUndefined();
    expect(index.lookup('XBB', 'XB1')?.owner).toBe('xb-interior');
  });

  it('bad input is refused with ERR_BODY_INVALID and changes nothing', () => {
    const index = new DocumentIndex({ hasher });
    expect(code(() => index.upsert(stolen('XA1', { country: 'ZZZ' })))).toBe('ERR_BODY_INVALID');
    expect(code(() => index.upsert(stolen('')))).toBe('ERR_BODY_INVALID');
    expect(code(() => index.upsert(stolen('XA1', { status: 'misplaced' as DocumentStatus })))).toBe('ERR_BODY_INVALID');
    expect(code(() => index.upsert(stolen('XA1', { seq: -1 })))).toBe('ERR_BODY_INVALID');
    expect(index.size).toBe(0);
  });

  it('keeps every record findable after growing far beyond its initial capacity (200 000 records)', () => {
    const index = new DocumentIndex({ hasher });
    const initial = index.capacity;
    const next = rng(12345);
    const numbers: string[] = [];
    for (let i = 0; i < 200_000; i++) {
      const n = `N${next().toString(36)}${i.toString(36)}`;
      numbers.push(n);
      index.upsert({ country: i % 2 ? 'XAA' : 'XBB', number: n, type: 'passport', status: 'lost', owner: `agency-${i % 7}`, seq: i });
    }
    expect(index.capacity).toBeGreaterThan(initial * 64);
    expect(index.size).toBe(200_000);
    expect(index.size / index.capacity).toBeLessThanOrEqual(0.75);
    for (let i = 0; i < numbers.length; i++) {
      const r = index.lookup(i % 2 ? 'XAA' : 'XBB', numbers[i]!);
      if (r?.seq !== i || r.owner !== `agency-${i % 7}`) throw new Error(`record ${i} lost: ${JSON.stringify(r)}`);
    }
    expect(index.lookup('XAA', 'NOT-THERE-1')).toBeUndefined();
    expect([...index.entries()].length).toBe(200_000);
  });

  it('stays within 64 bytes per record at a full load factor', () => {
    const index = new DocumentIndex({ hasher, capacity: 100_000 });
    for (let i = 0; i < 100_000; i++) index.upsertHashed({ hi: i, lo: (i * 2654435761) >>> 0, check: i & 255 }, { type: 'visa', status: 'lost', owner: 'x', seq: i });
    expect(index.memoryBytes() / index.size).toBeLessThanOrEqual(64);
  });
});

function sampleIndex(h: KeyedHasher = hasher): DocumentIndex {
  const index = new DocumentIndex({ hasher: h });
  for (let i = 0; i < 5_000; i++) {
    index.upsert({ country: 'XAA', number: `XA${i}`, type: 'identity_card', status: i % 5 === 0 ? 'recovered' : 'stolen', owner: `owner-${i % 3}`, seq: i });
  }
  return index;
}

describe('snapshots', () => {
  it('a document snapshot round trip gives identical answers and keeps the stream sequence', () => {
    const index = sampleIndex();
    const bytes = encodeDocumentSnapshot(index, { streamSequence: 123_456_789_012n });
    const loaded = decodeDocumentSnapshot(bytes, hasher);
    expect(loaded.streamSequence).toBe(123_456_789_012n);
    expect(loaded.records).toBe(5_000);
    for (let i = 0; i < 5_000; i++) expect(loaded.index.lookup('XAA', `XA${i}`)).toEqual(index.lookup('XAA', `XA${i}`));
    expect(loaded.index.lookup('XAA', 'XA5000')).toBeUndefined();
    expect(loaded.index.upsert({ country: 'XAA', number: 'XA5000', type: 'visa', status: 'lost', owner: 'owner-1', seq: 1 })).toBe('added');
  });

  it('a snapshot holds no plaintext document number', () => {
    const bytes = encodeDocumentSnapshot(sampleIndex(), { streamSequence: 1n });
    expect(bytes.includes(Buffer.from('XA4999'))).toBe(false);
    expect(bytes.includes(Buffer.from('4999'))).toBe(false);
  });

  it('a corrupted, truncated or foreign-key snapshot is refused with ERR_DECODE', () => {
    const bytes = encodeDocumentSnapshot(sampleIndex(), { streamSequence: 1n });
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 100]! ^= 0x01;
    expect(code(() => decodeDocumentSnapshot(flipped, hasher))).toBe('ERR_DECODE');
    expect(code(() => decodeDocumentSnapshot(bytes.subarray(0, bytes.length - 1), hasher))).toBe('ERR_DECODE');
    expect(code(() => decodeDocumentSnapshot(bytes.subarray(0, 40), hasher))).toBe('ERR_DECODE');
    const magic = Buffer.from(bytes);
    magic[0] = 0;
    expect(code(() => decodeDocumentSnapshot(magic, hasher))).toBe('ERR_DECODE');
    expect(code(() => decodeDocumentSnapshot(bytes, createKeyedHasher(Buffer.alloc(32, 9))))).toBe('ERR_DECODE');
  });

  it('a snapshot file streams out and back with identical answers; a corrupted file is refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'registry-index-'));
    try {
      const index = sampleIndex();
      const path = join(dir, 'documents.snap');
      expect(await writeDocumentSnapshotFile(path, index, { streamSequence: 77n })).toEqual({ records: 5_000, streamSequence: 77n });
      const loaded = await readDocumentSnapshotFile(path, hasher);
      expect(loaded.streamSequence).toBe(77n);
      for (let i = 0; i < 5_000; i += 7) expect(loaded.index.lookup('XAA', `XA${i}`)).toEqual(index.lookup('XAA', `XA${i}`));
      const bytes = await readFile(path);
      bytes[bytes.length - 1]! ^= 0x80;
      await writeFile(path, bytes);
      await expect(readDocumentSnapshotFile(path, hasher)).rejects.toMatchObject({ code: 'ERR_DECODE' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a person snapshot round trip gives identical matches; a corrupted one is refused', () => {
    const persons = personIndex();
    const bytes = encodePersonSnapshot(persons, { streamSequence: 9n });
    expect(bytes.includes(Buffer.from('HADDAD'))).toBe(false);
    const loaded = decodePersonSnapshot(bytes, hasher);
    expect(loaded.streamSequence).toBe(9n);
    const q = { names: ['Mohamed Hadad'], birthDate: '1985-03-02' };
    expect(loaded.index.match(q)).toEqual(persons.match(q));
    const bad = Buffer.from(bytes);
    bad[bad.length - 2]! ^= 0x04;
    expect(code(() => decodePersonSnapshot(bad, hasher))).toBe('ERR_DECODE');
  });
});

function personIndex(): PersonIndex {
  const p = new PersonIndex({ hasher });
  p.upsert({
    ref: 'XA-ALERT-1',
    owner: 'xa-border-police',
    seq: 11,
    name: { givenNames: 'Muhammad', familyName: 'Haddad' },
    aliases: [{ fullName: 'Abu Yusuf' }],
    birthDate: '1985-03-02',
    nationalities: ['XAA'],
    identifiers: [{ kind: 'passport', value: 'XA4417702', country: 'XAA' }],
  });
  p.upsert({ ref: 'XB-ALERT-2', owner: 'xb-police', seq: 12, name: { givenNames: 'Mohamed', familyName: 'Haddad' }, birthDate: '1990' });
  p.upsert({ ref: 'XC-ALERT-3', owner: 'xc-police', seq: 13, name: { givenNames: 'Сергей', familyName: 'Волков' }, birthDate: '1979-11' });
  p.upsert({ ref: 'XC-ALERT-4', owner: 'xc-police', seq: 14, name: { givenNames: 'Anna', familyName: 'Novak' }, identifiers: [{ kind: 'phone', value: '+381 64 123 4567' }] });
  return p;
}

describe('person matching', () => {
  it('finds an alert by identifier, whatever the spelling of the number, and says so', () => {
    const [c] = personIndex().match({ names: ['Someone Else'], identifiers: [{ kind: 'passport', value: 'xa-441 7702', country: 'xaa' }] });
    expect(c).toMatchObject({ ref: 'XA-ALERT-1', owner: 'xa-border-police', seq: 11, score: 100 });
    expect(c!.reasons).toContain('identifier: passport XAA');
  });

  it('finds by name variants with diacritics and transliteration plus birth date', () => {
    const [c] = personIndex().match({ names: [{ givenNames: 'Mohammed', familyName: 'Ḥaddâd' }], birthDate: '1985-03-02' });
    expect(c?.ref).toBe('XA-ALERT-1');
    expect(c!.reasons).toContain('name+birth date');
    expect(c!.reasons).toContain('transliteration variant of given name');
    expect(c!.score).toBeGreaterThanOrEqual(85);
  });

  it('finds a Cyrillic-recorded alert from a Latin spelling with the birth year', () => {
    const [c] = personIndex().match({ names: ['Sergey Volkov'], birthDate: '1979' });
    expect(c?.ref).toBe('XC-ALERT-3');
    expect(c!.reasons).toContain('name+birth year');
  });

  it('finds by alias and says it was the alias', () => {
    const [c] = personIndex().match({ names: ['Abou Youssef'], birthDate: '1985' });
    expect(c?.ref).toBe('XA-ALERT-1');
    expect(c!.reasons).toContain('alias+birth year');
  });

  it('ranks an exact identifier above a name-only match', () => {
    const p = personIndex();
    p.upsert({ ref: 'XB-ALERT-5', owner: 'xb-police', seq: 15, name: 'Muhammad Haddad', birthDate: '1985-03-02', nationalities: ['XAA'] });
    const out = p.match({ names: ['Muhammad Haddad'], birthDate: '1985-03-02', nationality: 'XAA', identifiers: [{ kind: 'passport', value: 'XA4417702', country: 'XAA' }] });
    expect(out.map((c) => c.ref).slice(0, 2)).toEqual(['XA-ALERT-1', 'XB-ALERT-5']);
    expect(out[0]!.score).toBeGreaterThan(out[1]!.score);
    expect(out[1]!.reasons).toEqual(['name+birth date', 'nationality XAA']);
  });

  it('a contradicting birth year or a surname alone is not returned', () => {
    const p = personIndex();
    expect(p.match({ names: ['Muhammad Haddad'], birthDate: '1950' })).toEqual([]);
    expect(p.match({ names: ['Haddad'] })).toEqual([]);
  });

  it('an updated alert replaces the old one and a removed alert no longer matches', () => {
    const p = personIndex();
    expect(p.upsert({ ref: 'XC-ALERT-4', owner: 'xc-police', seq: 20, name: 'Anna Novak', identifiers: [] })).toBe('updated');
    expect(p.match({ names: ['Nobody'], identifiers: [{ kind: 'phone', value: '+381641234567' }] })).toEqual([]);
    expect(p.remove('XA-ALERT-1')).toBe(true);
    expect(p.match({ names: ['Muhammad Haddad'], birthDate: '1985-03-02' }).map((c) => c.ref)).not.toContain('XA-ALERT-1');
    expect(p.size).toBe(3);
  });

  it('a malformed check is refused with ERR_BODY_INVALID', () => {
    const p = personIndex();
    expect(code(() => p.match({ names: ['A B'], birthDate: '1985-02-30' }))).toBe('ERR_BODY_INVALID');
    expect(code(() => p.match({ names: ['A B'], nationality: 'ZZZ' }))).toBe('ERR_BODY_INVALID');
  });
});
