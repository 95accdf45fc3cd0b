import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { compactVerify, importJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeEntry,
  encodeEntry,
  ensureLedgerStream,
  entrySubject,
  LEDGER_STREAM,
  queryLedger,
  readLedger,
  sha256,
  startAuditService,
  verifyLedger,
  type CopyEntry,
  type Entry,
  type QuarantineEntry,
  type QueryEntry,
  type QueryRow,
  type StoredEntry,
} from '../services/audit/index.ts';
import { runCli } from '../services/cli/main.ts';
import { AUDIT_COMMANDS } from '../services/cli/commands/audit.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { serviceSubject } from '../services/sdk/subjects.ts';
import type { Rejection } from '../services/sdk/client/consume.ts';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';
import { IndexDocumentStore } from '../services/registry/index-store.ts';
import { PersonAlerts } from '../services/registry/persons.ts';
import { createKeyedHasher } from '../services/registry/index/index.ts';
import { startRegistry, type Registry } from '../services/registry/service.ts';
import { auditKeyPaths, readAuditPublicKey } from '../services/trust/audit-key.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { RawAgency } from './support/violations.ts';

const REPORT = {
  documentNumber: 'XA4417702',
  issuingCountry: 'XAA',
  documentType: 'DOCUMENT_TYPE_PASSPORT',
  status: 'DOCUMENT_STATUS_FRAUDULENT',
  holderName: 'Amir Haddad',
};

const until = async (pred: () => boolean | Promise<boolean>, ms = 8_000) => {
  const end = Date.now() + ms;
  while (!(await pred()) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return await pred();
};

async function cli(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l), interrupted: new Promise(() => undefined) }, AUDIT_COMMANDS);
  return { code, out, err };
}

describe('audit ledger: a hash chain of every copy, refusal and registry query, with signed checkpoints', () => {
  let fed: TestFederation;
  let registry: Registry;
  let police: LiaisonClient;
  let centre: LiaisonClient;
  let xbPolice: LiaisonClient;
  const got: Record<string, ReceivedMessage[]> = { centre: [], xb: [] };
  const rejected: Rejection[] = [];

  const ledger = async (): Promise<Entry[]> => (await readLedger(fed.exchange.admin)).map((s) => decodeEntry(s.data));
  const flush = async () => await fed.exchange.audit!.flush();

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['xa-border-police', 'mac-centre', 'xb-police', 'xc-ncb'], name: 'audit' });
    const ncb = await fed.connect('xc-ncb');
    const key = randomBytes(32);
    registry = await startRegistry({ client: ncb, store: new IndexDocumentStore(key), persons: new PersonAlerts(createKeyedHasher(key)) });
    [police, centre, xbPolice] = (await Promise.all(['xa-border-police', 'mac-centre', 'xb-police'].map((a) => fed.connect(a)))) as [LiaisonClient, LiaisonClient, LiaisonClient];
    await centre.consume((m) => void got.centre!.push(m));
    await xbPolice.consume((m) => void got.xb!.push(m), { onReject: (r) => void rejected.push(r) });
  });
  afterAll(async () => {
    await registry?.stop();
    await fed?.stop();
  });

  it('the audit key is created on first use, mode 0600, in the trust dir', async () => {
    expect((await stat(auditKeyPaths(fed.trustDir).key)).mode & 0o777).toBe(0o600);
    expect((await readAuditPublicKey(fed.trustDir)).jwk.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('every exchanged copy is in the ledger with header facts, stream position and envelope digest — no body bytes', async () => {
    const r = await police.send('DocumentReport', REPORT, { caseRef: 'CASE-AUDIT-1' });
    expect(await until(() => got.centre!.some((m) => m.header.id === r.id) && got.xb!.some((m) => m.header.id === r.id))).toBe(true);
    await flush();
    const stored = await readLedger(fed.exchange.admin);
    const copies = stored.map((s) => decodeEntry(s.data)).filter((e): e is CopyEntry => e.kind === 'copy' && e.id === r.id);
    expect(copies.map((c) => c.tier).sort()).toEqual(['operational', 'personal']);
    const jsm = await jetstreamManager(fed.exchange.admin);
    for (const c of copies) {
      const sent = r.copies.find((x) => x.tier === c.tier)!;
      expect(c).toMatchObject({ stream: sent.stream, seq: sent.seq, subject: sent.subject, type: 'DocumentReport', sender: 'xa-border-police', recipient: 'all', msgId: expect.stringMatching(new RegExp(`^xa-border-police:${r.id}:${c.tier}:[A-Za-z0-9_-]{22}$`)) });
      const m = await jsm.streams.getMessage(sent.stream, { seq: sent.seq });
      expect(c.digest).toBe(sha256(m!.data));
      expect(c.size).toBe(m!.data.byteLength);
      for (const a of sent.recipients) expect(c.deliverTo).toContain(a);
      expect(c.sentAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    }
    expect(copies.find((c) => c.tier === 'operational')!.deliverTo).toContain('mac-centre');
    expect(copies.find((c) => c.tier === 'personal')!.deliverTo).toContain('xb-police');
    const all = Buffer.concat(stored.map((s) => Buffer.from(s.data))).toString('utf8');
    for (const secret of [REPORT.documentNumber, REPORT.holderName, 'CASE-AUDIT-1']) expect(all).not.toContain(secret);
    // Deliveries: the receivers' consumers acknowledged the copies (receipt entries from ack floors).
    expect(
      await until(async () => {
        const rows = queryLedger(await ledger(), { agency: 'mac-centre', type: 'liaison.v1.DocumentReport' });
        return rows.some((row) => row.entry.id === r.id && row.acked?.includes('mac-centre'));
      }),
    ).toBe(true);
  });

  it('a quarantined copy is recorded with the refusing agency, its code and reason', async () => {
    const sealed = police.seal('DocumentReport', REPORT);
    const op = sealed.copies.find((c) => c.tier === 'operational')!;
    const raw = await RawAgency.connect(fed.server.url, fed.agencyDirs['xa-border-police']!, 'xa-border-police');
    raw.nc.publish(op.subject.replace('.operational.', '.personal.'), op.data);
    await raw.nc.flush();
    await raw.close();
    expect(await until(() => rejected.some((x) => x.code === 'ERR_SUBJECT_MISMATCH'))).toBe(true);
    await flush();
    // The raw publisher sent no NATS headers: the entry is found by the digest of the refused bytes.
    const q = (await ledger()).filter((e): e is QuarantineEntry => e.kind === 'quarantine' && e.by === 'xb-police' && e.digest === sha256(op.data));
    expect(q).toHaveLength(1);
    expect(q[0]).toMatchObject({ by: 'xb-police', code: 'ERR_SUBJECT_MISMATCH', claimedSender: 'xa-border-police', type: 'DocumentReport', stream: 'LIAISON_QUARANTINE' });
    expect(q[0]!.reason).toMatch(/subject/i);
    expect(q[0]!.originalSubject).toBe(op.subject.replace('.operational.', '.personal.'));
  });

  it('a registry query is recorded: who asked which service, when, and the request digest the signed reply is bound to', async () => {
    const before = Date.now();
    const reply = await xbPolice.request('DocumentCheckRequest', { documentNumber: 'XA4417702', issuingCountry: 'XAA' });
    await flush();
    const q = (await ledger()).filter((e): e is QueryEntry => e.kind === 'query' && e.type === 'DocumentCheckRequest');
    expect(q).toHaveLength(1);
    expect(q[0]).toMatchObject({ requester: 'xb-police', server: 'xc-ncb', service: 'documents.DocumentCheckRequest', digest: reply.header.requestHash });
    expect(Date.parse(q[0]!.at)).toBeGreaterThanOrEqual(before - 1_000);
  });

  it('a request is recorded under its verified signer: a forged ce-source is flagged, a broken signature marked unverified', async () => {
    const sealed = xbPolice.seal('DocumentCheckRequest', { documentNumber: 'XA4417702', issuingCountry: 'XAA' }, { to: 'xc-ncb' }).copies[0]!;
    const subject = serviceSubject('documents', 'DocumentCheckRequest', 'xb-police');
    const forged = natsHeaders();
    for (const [k, v] of Object.entries(sealed.headers)) forged.set(k, v);
    forged.set('ce-source', '/liaison/agencies/xa-border-police');
    // xb-police's own signed request, its NATS header claiming the border police asked.
    await xbPolice.nc.request(subject, sealed.data, { headers: forged, timeout: 5_000 }).catch(() => undefined);
    // A corrupted signature (last byte of the envelope flipped), headers intact.
    const broken = new Uint8Array(sealed.data);
    broken[broken.length - 1]! ^= 0xff;
    const intact = natsHeaders();
    for (const [k, v] of Object.entries(sealed.headers)) intact.set(k, v);
    await xbPolice.nc.request(subject, broken, { headers: intact, timeout: 2_000 }).catch(() => undefined);
    await flush();
    const q = (await ledger()).filter((e): e is QueryEntry => e.kind === 'query' && (e.digest === sha256(sealed.data) || e.digest === sha256(broken)));
    const byDigest = (d: Uint8Array) => q.find((e) => e.digest === sha256(d));
    expect(byDigest(sealed.data)).toMatchObject({ requester: 'xb-police', mismatch: ['ce-source'] });
    expect(byDigest(sealed.data)?.unverified).toBeUndefined();
    expect(byDigest(broken)?.requester).toBe('xb-police');
    expect(byDigest(broken)?.unverified).toMatch(/^ERR_(SIGNATURE_INVALID|DECODE)/);
    // Nobody is said to have asked for what they did not sign.
    expect(queryLedger(await ledger(), { agency: 'xa-border-police' }).some((row) => row.entry.kind === 'query' && row.roles.includes('asked'))).toBe(false);
  });

  it('query by agency answers who saw what: sent, addressed, delivered, refused, asked — and nothing else', async () => {
    const directed = await police.send('IntelligenceReport', { summary: 'Vessel sighted off the coast' }, { to: 'mac-centre' });
    expect(await until(() => got.centre!.some((m) => m.header.id === directed.id))).toBe(true);
    await flush();
    const entries = await ledger();
    const xb = queryLedger(entries, { agency: 'xb-police' });
    const ids = (rows: QueryRow[]) => rows.map((row) => row.entry.id);
    expect(ids(xb)).not.toContain(directed.id);
    expect(xb.some((row) => row.entry.kind === 'quarantine' && row.roles.includes('refused'))).toBe(true);
    expect(xb.some((row) => row.entry.kind === 'query' && row.roles.includes('asked'))).toBe(true);
    expect(xb.filter((row) => row.entry.kind === 'copy').every((row) => row.roles.includes('delivered') || row.roles.includes('addressed') || row.roles.includes('sent'))).toBe(true);
    const mac = queryLedger(entries, { agency: 'mac-centre', type: 'IntelligenceReport' });
    expect(mac).toHaveLength(1);
    expect(mac[0]!.entry.id).toBe(directed.id);
    expect(mac[0]!.roles).toEqual(['addressed', 'delivered']);
    const sentByPolice = queryLedger(entries, { agency: 'xa-border-police' });
    expect(sentByPolice.filter((row) => row.roles.includes('sent')).length).toBeGreaterThanOrEqual(4);
    expect(queryLedger(entries, { agency: 'xb-police', since: new Date(Date.now() + 60_000) })).toEqual([]);
    // The same through the CLI.
    const res = await cli(['audit', 'query', '--dir', fed.trustDir, '--server', fed.server.url, '--agency', 'mac-centre', '--type', 'IntelligenceReport', '--json']);
    expect(res.code).toBe(0);
    const rows = JSON.parse(res.out[0]!) as QueryRow[];
    expect(rows.map((row) => row.entry.id)).toEqual([directed.id]);
    const text = await cli(['audit', 'query', '--dir', fed.trustDir, '--server', fed.server.url, '--agency', 'xb-police']);
    expect(text.out.some((l) => l.includes('REFUSED by xb-police: ERR_SUBJECT_MISMATCH'))).toBe(true);
    expect(text.out.some((l) => l.includes('QUERY documents.DocumentCheckRequest by xb-police to xc-ncb'))).toBe(true);
  });

  it('liaison explain MSG_ID: who sent a real message, which tier went to whom, who acknowledged it', async () => {
    const sent = await police.send('DocumentReport', { ...REPORT, documentNumber: 'XA9000001' });
    expect(await until(() => got.centre!.some((m) => m.header.id === sent.id) && got.xb!.some((m) => m.header.id === sent.id))).toBe(true);
    await new Promise((r) => setTimeout(r, 2_500)); // a receipt round (acknowledgement floors) after delivery
    await flush();
    const res = await cli(['explain', '--dir', fed.trustDir, '--server', fed.server.url, sent.id, '--json']);
    expect(res.code).toBe(0);
    const x = JSON.parse(res.out[0]!) as { sender: string; copies: { tier: string; deliverTo: string[]; acknowledged: string[] }[] };
    expect(x.sender).toBe('xa-border-police');
    const byTier = Object.fromEntries(x.copies.map((c) => [c.tier, c]));
    expect(byTier.operational!.deliverTo).toContain('mac-centre');
    expect(byTier.personal!.deliverTo).toContain('xb-police');
    expect(byTier.personal!.deliverTo).not.toContain('mac-centre');
    expect(byTier.operational!.acknowledged).toContain('mac-centre');
    const missing = await cli(['explain', '--dir', fed.trustDir, '--server', fed.server.url, '01900000-0000-7000-8000-000000000000']);
    expect(missing.code).toBe(1);
    expect(missing.err.join('\n')).toContain('has no message');
  });

  it('keeps up when reprovisioning removes its consumers, and a restarted service resumes exactly where the ledger ends', async () => {
    await fed.exchange.reprovision();
    const a = await police.send('IntelligenceReport', { summary: 'after reprovision' }, { to: 'mac-centre' });
    await flush();
    await fed.exchange.audit!.stop();
    const b = await police.send('IntelligenceReport', { summary: 'while the audit was down' }, { to: 'mac-centre' });
    const again = await startAuditService({ nc: fed.exchange.admin, trustDir: fed.trustDir, policy: () => fed.exchange.policy, catalog: typeCatalogOf(fed.catalog) });
    fed.exchange.audit = again;
    await again.flush();
    const entries = await ledger();
    for (const id of [a.id, b.id]) expect(entries.filter((e) => e.kind === 'copy' && e.id === id)).toHaveLength(1);
    const seen = new Set<string>();
    for (const e of entries) {
      if (e.kind !== 'copy' && e.kind !== 'quarantine') continue;
      const key = `${e.stream}#${e.seq}`;
      expect(seen.has(key), key).toBe(false);
      seen.add(key);
    }
    expect(entries.filter((e) => e.kind === 'gap')).toEqual([]);
    expect(entries.filter((e) => e.kind === 'start').length).toBe(2);
  });

  it('verify passes on the intact ledger; checkpoints are standard JWS (jose verifies them)', async () => {
    await fed.exchange.audit!.checkpoint();
    const res = await cli(['audit', 'verify', '--dir', fed.trustDir, '--server', fed.server.url]);
    expect(res.out.at(-1)).toBe('ledger intact');
    expect(res.code).toBe(0);
    const cp = (await ledger()).filter((e) => e.kind === 'checkpoint').at(-1)!;
    const pub = await readAuditPublicKey(fed.trustDir);
    const { payload, protectedHeader } = await compactVerify(cp.kind === 'checkpoint' ? cp.jws : '', await importJWK({ ...pub.jwk }, 'Ed25519'));
    expect(protectedHeader).toMatchObject({ alg: 'Ed25519', typ: 'liaison-audit-checkpoint', kid: pub.jwk.kid });
    expect(JSON.parse(new TextDecoder().decode(payload))).toMatchObject({ ledger: LEDGER_STREAM, count: cp.n - 1 });
  });

  describe('tampering through the administrator connection', () => {
    let original: StoredEntry[];
    let key: Awaited<ReturnType<typeof readAuditPublicKey>>;
    let k: number;

    /** The ledger stream denies message deletion and purging, so rewrite it the only way left: delete the stream, recreate it, republish a doctored copy. */
    const rewrite = async (entries: Uint8Array[]) => {
      const jsm = await jetstreamManager(fed.exchange.admin);
      await jsm.streams.delete(LEDGER_STREAM);
      await ensureLedgerStream(fed.exchange.admin);
      const js = jetstream(fed.exchange.admin);
      for (const data of entries) await js.publish(entrySubject(decodeEntry(data)), data);
    };
    const verifyNow = async () => verifyLedger(await readLedger(fed.exchange.admin), { publicKey: key.key, kid: key.jwk.kid! });
    const edit = (i: number, f: (e: Entry) => Entry) => {
      const data = original.map((s) => s.data);
      data[i] = encodeEntry(f(decodeEntry(data[i]!)));
      return data;
    };

    beforeAll(async () => {
      await fed.exchange.audit!.stop();
      original = await readLedger(fed.exchange.admin);
      key = await readAuditPublicKey(fed.trustDir);
      // A copy entry in the middle, followed by another entry and by a checkpoint. Not one a checkpoint follows at once
      // (the audit signs one every 30 s): that checkpoint would name the edit too, a second problem for the same fault.
      k = original.findIndex((s, i) => i > 2 && decodeEntry(s.data).kind === 'copy' && i + 2 < original.length && decodeEntry(original[i + 1]!.data).kind !== 'checkpoint');
      expect(k).toBeGreaterThan(0);
    });
    afterAll(async () => {
      await rewrite(original.map((s) => s.data));
    });

    it('deleting or purging entries in place is refused by the stream', async () => {
      const jsm = await jetstreamManager(fed.exchange.admin);
      await expect(jsm.streams.deleteMessage(LEDGER_STREAM, original[k]!.seq)).rejects.toThrow();
      await expect(jsm.streams.purge(LEDGER_STREAM)).rejects.toThrow();
      expect((await verifyNow()).ok).toBe(true);
    });

    it('a modified entry: hash mismatch, named', async () => {
      await rewrite(edit(k, (e) => ({ ...e, sender: 'xb-police' }) as Entry));
      const n = decodeEntry(original[k]!.data).n;
      const report = await verifyNow();
      expect(report.ok).toBe(false);
      expect(report.problems).toEqual([expect.objectContaining({ kind: 'hash-mismatch', entry: n })]);
      const res = await cli(['audit', 'verify', '--dir', fed.trustDir, '--server', fed.server.url]);
      expect(res.code).toBe(1);
      expect(res.out.some((l) => l.includes(`entry ${n} was modified`))).toBe(true);
      expect(res.err.join('\n')).toContain('ERR_AUDIT_TAMPERED');
    });

    it('a removed entry: named as missing', async () => {
      await rewrite(original.filter((_, i) => i !== k).map((s) => s.data));
      const n = decodeEntry(original[k]!.data).n;
      const report = await verifyNow();
      expect(report.problems).toEqual([expect.objectContaining({ kind: 'removed', entry: n })]);
    });

    it('an inserted entry: a second entry claiming a number, not linked to by the chain', async () => {
      const before = decodeEntry(original[k]!.data);
      const forged = encodeEntry({ ...(decodeEntry(original[k + 1]!.data) as Entry), kind: 'copy', n: before.n + 1, prev: sha256(original[k]!.data), sender: 'xb-police', digest: sha256(Buffer.from('forged')) } as Entry);
      const data = original.map((s) => s.data);
      data.splice(k + 1, 0, forged);
      await rewrite(data);
      const report = await verifyNow();
      expect(report.problems).toEqual([expect.objectContaining({ kind: 'inserted', entry: before.n + 1 })]);
    });

    it('reordered entries: named', async () => {
      const data = original.map((s) => s.data);
      [data[k], data[k + 1]] = [data[k + 1]!, data[k]!];
      await rewrite(data);
      const n = decodeEntry(original[k]!.data).n;
      const report = await verifyNow();
      expect(report.problems).toEqual([expect.objectContaining({ kind: 'reordered', entry: n })]);
    });

    it('a rewrite that re-links the whole chain is caught by the signed checkpoints', async () => {
      const data: Uint8Array[] = [];
      let prev = '';
      original.forEach((s, i) => {
        let e = decodeEntry(s.data);
        if (i === k) e = { ...e, sender: 'xb-police' } as Entry;
        if (i > k) e = { ...e, prev, ...(e.kind === 'checkpoint' ? { head: prev } : {}) } as Entry;
        const bytes = encodeEntry(e);
        prev = sha256(bytes);
        data.push(bytes);
      });
      await rewrite(data);
      const report = await verifyNow();
      expect(report.ok).toBe(false);
      expect(report.problems.length).toBeGreaterThan(0);
      expect(report.problems.every((p) => p.kind === 'checkpoint-head')).toBe(true);
    });

    it('the original ledger, republished, verifies again', async () => {
      await rewrite(original.map((s) => s.data));
      expect((await verifyNow()).ok).toBe(true);
    });
  });
});
