import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { signCheckpoint } from '../services/audit/checkpoint.ts';
import { encodeEntry, GENESIS, sha256, type CheckpointEntry, type Entry } from '../services/audit/entry.ts';
import type { StoredEntry } from '../services/audit/ledger-stream.ts';
import { verifyLedger } from '../services/audit/verify.ts';

/**
 * `liaison audit verify` against an attacker who rewrites entries, re-links the whole hash chain AND
 * re-computes every later checkpoint — but does not hold the audit key, so signs them with a key of
 * its own (issue 12, finding 7). The existing re-link test leaves the checkpoints untouched; here
 * the checkpoint signature is the only thing that can catch the rewrite, and verify must name each
 * forged checkpoint.
 */

interface Key {
  privateKey: KeyObject;
  publicKey: KeyObject;
  kid: string;
}

async function makeKey(): Promise<Key> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey, kid: await calculateJwkThumbprint(publicKey.export({ format: 'jwk' }) as JWK) };
}

const AT = (n: number) => new Date(Date.parse('2026-11-20T08:00:00.000Z') + n * 1000).toISOString();

/** The entry bodies of a small ledger; `null` marks where a checkpoint goes (entries 5, 9 and 12). */
const PLAN: (Omit<Entry, 'v' | 'n' | 'prev' | 'at'> | null)[] = [
  { kind: 'start', kid: 'k', positions: {} },
  ...[1, 2, 3].map((seq) => copy(seq, 'xa-border-police')),
  null,
  ...[4, 5, 6].map((seq) => copy(seq, 'xa-border-police')),
  null,
  ...[7, 8].map((seq) => copy(seq, 'xb-police')),
  null,
] as (Omit<Entry, 'v' | 'n' | 'prev' | 'at'> | null)[];

function copy(seq: number, sender: string): Omit<Entry, 'v' | 'n' | 'prev' | 'at'> {
  return {
    kind: 'copy',
    stream: 'LIAISON_DOCUMENTS',
    seq,
    subject: `liaison.v1.personal.documents.DocumentReport.${sender}.all`,
    type: 'DocumentReport',
    sender,
    recipient: 'all',
    tier: 'personal',
    digest: sha256(Buffer.from(`envelope ${seq}`)),
    size: 400 + seq,
    deliverTo: ['xc-ncb'],
    policy: 'sha256:policy',
  } as Omit<Entry, 'v' | 'n' | 'prev' | 'at'>;
}

/**
 * Build the stored ledger: number and chain every entry, and sign a checkpoint where the plan says,
 * over the chain as it stands, with the key `signer` gives for its entry number (and the `kid` it claims). `rewrite` changes entry
 * bodies before they are chained — a consistent rewrite.
 */
function buildLedger(signer: (n: number) => { privateKey: KeyObject; kid: string }, rewrite: (n: number, e: Entry) => Entry = (_n, e) => e): StoredEntry[] {
  const out: StoredEntry[] = [];
  let prev = GENESIS;
  PLAN.forEach((body, i) => {
    const n = i + 1;
    let e: Entry;
    if (body === null) {
      const key = signer(n);
      const jws = signCheckpoint({ count: n - 1, head: prev, at: AT(n) }, key);
      e = { v: 1, n, prev, at: AT(n), kind: 'checkpoint', count: n - 1, head: prev, kid: key.kid, jws };
    } else {
      e = rewrite(n, { ...body, v: 1, n, prev, at: AT(n) } as Entry);
    }
    const data = encodeEntry(e);
    out.push({ seq: n, data });
    prev = sha256(data);
  });
  return out;
}

/** Entry 7 (a copy by xa-border-police, covered by checkpoint 9) now says xb-police sent it. */
const forgeSender = (n: number, e: Entry): Entry => (n === 7 && e.kind === 'copy' ? { ...e, sender: 'xb-police', subject: e.subject.replace('xa-border-police', 'xb-police') } : e);

describe('audit verify: a re-linked rewrite with re-computed checkpoints signed without the audit key', () => {
  let audit: Key;
  let attacker: Key;
  beforeAll(async () => {
    audit = await makeKey();
    attacker = await makeKey();
  });
  const verify = (stored: StoredEntry[]) => verifyLedger(stored, { publicKey: audit.publicKey, kid: audit.kid });
  /** The attacker rewrites from entry 7 on: checkpoint 5 stays the genuine one, later ones are signed with `forged`. */
  const after7 = (forged: { privateKey: KeyObject; kid: string }) => (n: number) => (n < 7 ? audit : forged);

  it('positive control: the genuine ledger verifies, three checkpoints, nothing uncovered', () => {
    const report = verify(buildLedger(() => audit));
    expect(report).toMatchObject({ ok: true, checkpoints: 3, uncovered: 0, problems: [] });
    expect(report.lastCheckpoint).toMatchObject({ entry: 12, count: 11 });
  });

  it('positive control: the same rewrite signed WITH the audit key passes — the checkpoint signature is all that catches it', () => {
    const report = verify(buildLedger(() => audit, forgeSender));
    expect(report.ok).toBe(true);
  });

  it('signed with another key under its own kid: each forged checkpoint is named (entries 9 and 12); entry 5 still verifies', () => {
    const report = verify(buildLedger(after7({ privateKey: attacker.privateKey, kid: attacker.kid }), forgeSender));
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => [p.kind, p.entry])).toEqual([
      ['checkpoint-signature', 1 + 8],
      ['checkpoint-signature', 1 + 11],
    ]);
    expect(report.problems[0]!.message).toContain(`not the audit key ${audit.kid}`);
    expect(report.checkpoints).toBe(1);
    expect(report.lastCheckpoint).toMatchObject({ entry: 5, count: 4 });
    expect(report.uncovered).toBe(7);
  });

  it("signed with another key claiming the audit key's kid: refused by the signature itself, each forged checkpoint named", () => {
    // Also the genuine first segment re-signed by the attacker: a checkpoint over an untouched segment is no better.
    const report = verify(buildLedger(() => ({ privateKey: attacker.privateKey, kid: audit.kid }), forgeSender));
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => [p.kind, p.entry])).toEqual([
      ['checkpoint-signature', 5],
      ['checkpoint-signature', 9],
      ['checkpoint-signature', 12],
    ]);
    expect(report.problems.every((p) => p.message.includes('signature does not verify with the audit key'))).toBe(true);
    expect(report.checkpoints).toBe(0);
    expect(report.lastCheckpoint).toBeUndefined();
    expect(report.uncovered).toBe(12);
  });

  it('a checkpoint whose signature is truncated or emptied is named too', () => {
    const stored = buildLedger(() => audit);
    const cp = JSON.parse(Buffer.from(stored[8]!.data).toString('utf8')) as CheckpointEntry;
    for (const jws of [cp.jws.slice(0, -4), `${cp.jws.split('.').slice(0, 2).join('.')}.`]) {
      const data = [...stored];
      data[8] = { seq: 9, data: encodeEntry({ ...cp, jws }) };
      // Re-link what follows so that only the checkpoint itself is wrong.
      let prev = sha256(data[8]!.data);
      for (let i = 9; i < data.length; i++) {
        const e = JSON.parse(Buffer.from(data[i]!.data).toString('utf8')) as Entry;
        const fixed = e.kind === 'checkpoint' ? { ...e, prev, head: prev, jws: signCheckpoint({ count: e.n - 1, head: prev, at: e.at }, audit) } : { ...e, prev };
        data[i] = { seq: i + 1, data: encodeEntry(fixed) };
        prev = sha256(data[i]!.data);
      }
      const report = verify(data);
      expect(report.problems.map((p) => [p.kind, p.entry])).toEqual([['checkpoint-signature', 9]]);
    }
  });
});
