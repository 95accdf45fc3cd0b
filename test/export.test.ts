import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flattenedVerify, importJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../services/cli/main.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { decodeRecipe, VERIFY_RECIPE } from '../services/sdk/envelope/export.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { ROOT } from './support/liaison-bin.ts';

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l), interrupted: new Promise(() => undefined) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** The README's recipe, run by bash with Debian's openssl in `dir`: OpenSSL's verdict and exit status. */
function openssl(dir: string): { code: number | null; text: string } {
  const r = spawnSync('bash', ['-c', VERIFY_RECIPE.join(' && ')], { cwd: dir, encoding: 'utf8' });
  return { code: r.status, text: `${r.stdout}${r.stderr}` };
}

/** One line of the protoc recipe, run by bash in `dir` with PROTO set to the repository's proto/ directory. */
function protoc(dir: string, line: string): { code: number | null; out: string; err: string } {
  const r = spawnSync('bash', ['-c', line], { cwd: dir, encoding: 'utf8', env: { ...process.env, PROTO: join(ROOT, 'proto') } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const PROTOC_MISSING =
  'protoc is not installed, and this test runs the decode lines of the README and VERIFY.md with it: run `apt-get install -y protobuf-compiler` (Debian/Ubuntu; .ci/run installs it)';

const REPORT = { documentNumber: 'XA7700001', issuingCountry: 'XAA', documentType: 'DOCUMENT_TYPE_PASSPORT', status: 'DOCUMENT_STATUS_STOLEN', holderName: 'Test Holder' };

describe('liaison export: a stored message as raw files that openssl and any JWS library verify without Liaison', () => {
  let fed: TestFederation;
  let police: LiaisonClient;
  let work: string;
  let id: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'liaison-export-'));
    fed = await createTestFederation({ agencies: ['xa-border-police', 'xb-police', 'mac-centre'], name: 'export' });
    police = await fed.connect('xa-border-police');
    id = (await police.send('DocumentReport', REPORT)).id;
  }, 120_000);

  afterAll(async () => {
    await police?.close();
    await fed?.stop();
    await rm(work, { recursive: true, force: true });
  });

  /** Export until the audit ledger has recorded the copies (it follows the streams asynchronously). */
  async function exported(out: string): Promise<{ code: number; out: string; err: string }> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const r = await cli(['export', '--dir', fed.trustDir, '--server', fed.server.url, id, '--from', 'xa-border-police', '--out', out]);
      if (r.code === 0 || Date.now() > deadline) return r;
      await new Promise((res) => setTimeout(res, 250));
    }
  }

  it('writes one directory per tier copy, and the openssl recipe of VERIFY.md verifies each; one flipped payload bit and it does not', async () => {
    const out = join(work, 'evidence');
    const r = await exported(out);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const tiers = (await readdir(out)).sort();
    expect(tiers).toEqual(['operational', 'personal']);
    for (const t of tiers) {
      const dir = join(out, t);
      expect(await readFile(join(dir, 'VERIFY.md'), 'utf8')).toContain(VERIFY_RECIPE[1]);
      const ok = openssl(dir);
      expect(ok.text).toContain('Signature Verified Successfully');
      expect(ok.code).toBe(0);
      const signed = await readFile(join(dir, 'signed.bin'));
      signed[signed.length - 1]! ^= 1;
      await writeFile(join(dir, 'signed.bin'), signed);
      const bad = openssl(dir);
      expect(bad.code).not.toBe(0);
      expect(bad.text).toContain('Signature Verification Failure');
    }
    expect(r.out).toContain('signature verified');
  });

  it('jws.json is the flattened JWS JSON serialization with a detached payload; jose verifies it with sender.jwk.json; alg is Ed25519', async () => {
    const dir = join(work, 'jose');
    expect((await cli(['export', '--dir', fed.trustDir, '--server', fed.server.url, id, '--from', 'xa-border-police', '--tier', 'personal', '--out', dir])).code).toBe(0);
    const jws = JSON.parse(await readFile(join(dir, 'jws.json'), 'utf8')) as { protected: string; signature: string };
    const jwk = JSON.parse(await readFile(join(dir, 'sender.jwk.json'), 'utf8')) as Record<string, string>;
    const payload = await readFile(join(dir, 'signed.bin'));
    const v = await flattenedVerify({ ...jws, payload }, await importJWK(jwk, 'Ed25519'));
    expect(v.protectedHeader).toMatchObject({ alg: 'Ed25519', b64: false, crit: ['b64'] });
    // The envelope is the stored bytes; its JWS parts are the files beside it (openssl reads the PEM of the same key).
    const pem = execFileSync('openssl', ['pkey', '-pubin', '-in', join(dir, 'sender.pem'), '-noout', '-text'], { encoding: 'utf8' });
    expect(pem).toContain('ED25519 Public-Key');
    // The body of the personal copy is the personal projection: the holder's name is in it.
    expect((await readFile(join(dir, 'body.bin'))).includes(Buffer.from('Test Holder'))).toBe(true);
  });

  it('the protoc lines of VERIFY.md and the README decode the exported header and body: sender, id, type, tier, policy hash, every field', async () => {
    if (spawnSync('protoc', ['--version']).status !== 0) throw new Error(PROTOC_MISSING);
    const dir = join(work, 'protoc');
    expect((await cli(['export', '--dir', fed.trustDir, '--server', fed.server.url, id, '--from', 'xa-border-police', '--tier', 'personal', '--out', dir])).code).toBe(0);
    const [headerLine, bodyLine] = decodeRecipe('DocumentReport');
    const verifyMd = await readFile(join(dir, 'VERIFY.md'), 'utf8');
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    for (const line of [headerLine!, bodyLine!]) expect(verifyMd).toContain(line);
    expect(readme).toContain(headerLine);
    expect(readme).toContain(decodeRecipe('TYPE')[1]);

    const header = protoc(dir, headerLine!);
    expect(header.err).toBe('');
    expect(header.code).toBe(0);
    for (const field of [`id: "${id}"`, 'type: "liaison.v1.DocumentReport"', 'sender: "xa-border-police"', 'tier: SENSITIVITY_PERSONAL', `policy_hash: "${police.policy.hash}"`, 'created_at {']) {
      expect(header.out).toContain(field);
    }
    const body = protoc(dir, bodyLine!);
    expect(body.err).toBe('');
    expect(body.code).toBe(0);
    expect(body.out.trim().split('\n')).toEqual([
      'document_number: "XA7700001"',
      'issuing_country: "XAA"',
      'document_type: DOCUMENT_TYPE_PASSPORT',
      'status: DOCUMENT_STATUS_STOLEN',
      'holder_name: "Test Holder"',
    ]);
  });

  it('an id the ledger does not have is exit 1 with a sentence; a missing --from is a usage error (exit 2)', async () => {
    const none = await cli(['export', '--dir', fed.trustDir, '--server', fed.server.url, '0190c1e2-0000-7000-8000-000000000000', '--from', 'xa-border-police', '--out', join(work, 'none')]);
    expect(none.code).toBe(1);
    expect(none.err).toContain('has no message 0190c1e2-0000-7000-8000-000000000000 from xa-border-police');
    expect((await cli(['export', '--dir', fed.trustDir, id])).code).toBe(2);
  });
});
