import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agencyServersFor, DEFAULT_EXCHANGE_URL, EXCHANGE_FILE, exchangeUrlFor } from '../services/cli/exchange-url.ts';
import { freePort } from '../services/exchange/nats-process.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { initFederation } from '../services/trust/index.ts';
import { EXAMPLE_POLICY } from './support/federation.ts';
import { runBin, startBin } from './support/liaison-bin.ts';

const codeOf = (f: () => unknown): string => {
  try {
    f();
    return 'ok';
  } catch (err) {
    return isLiaisonError(err) ? err.code : 'untyped';
  }
};

describe('the exchange URL is remembered: --server, else LIAISON_SERVER, else what exchange up recorded, else the default', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'liaison-url-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('precedence: the flag over the variable over the trust directory’s record over the default', async () => {
    const dir = join(work, 'prec');
    await initFederation({ dir, policyText: await readFile(EXAMPLE_POLICY, 'utf8'), federationName: 'url' });
    expect(exchangeUrlFor(dir, undefined, {})).toBe(DEFAULT_EXCHANGE_URL);
    await writeFile(join(dir, EXCHANGE_FILE), JSON.stringify({ url: 'nats://127.0.0.1:4555' }));
    expect(exchangeUrlFor(dir, undefined, {})).toBe('nats://127.0.0.1:4555');
    expect(exchangeUrlFor(dir, undefined, { LIAISON_SERVER: 'nats://127.0.0.1:4666' })).toBe('nats://127.0.0.1:4666');
    expect(exchangeUrlFor(dir, 'nats://127.0.0.1:4777', { LIAISON_SERVER: 'nats://127.0.0.1:4666' })).toBe('nats://127.0.0.1:4777');
    expect(agencyServersFor(undefined, {})).toBeUndefined(); // agency.json's servers
    expect(agencyServersFor(undefined, { LIAISON_SERVER: 'tls://10.0.0.5:4222' })).toEqual(['tls://10.0.0.5:4222']);
    expect(codeOf(() => exchangeUrlFor(dir, undefined, { LIAISON_SERVER: 'http://x' }))).toBe('ERR_CONFIG_INVALID');
    expect(codeOf(() => agencyServersFor('127.0.0.1:4222', {}))).toBe('ERR_CONFIG_INVALID');
  });

  it('exchange up records its URL; a later --dir command without --server reaches it, and LIAISON_SERVER overrides it', async () => {
    const dir = join(work, 'live');
    await initFederation({ dir, policyText: await readFile(EXAMPLE_POLICY, 'utf8'), federationName: 'url-live' });
    const port = await freePort();
    const up = startBin(['exchange', 'up', '--dir', dir, '--port', String(port), '--store', join(work, 'store')]);
    try {
      await up.waitFor(/Ctrl-C stops it/, 60_000);
      const recorded = JSON.parse(await readFile(join(dir, EXCHANGE_FILE), 'utf8')) as { url: string };
      expect(recorded.url).toContain(`:${port}`);
      const verify = await runBin(['audit', 'verify', '--dir', dir], { LIAISON_SERVER: undefined });
      expect(verify.err).toBe('');
      expect(verify.code).toBe(0);
      // An agency enrolled now carries the exchange's recorded URL, and `doctor --dir` finds the exchange without --server.
      const agency = join(work, 'agency');
      expect((await runBin(['trust', 'enrol', '--dir', dir, '--agency', 'xa-border-police', '--out', agency], { LIAISON_SERVER: undefined })).code).toBe(0);
      expect((JSON.parse(await readFile(join(agency, 'agency.json'), 'utf8')) as { servers: string[] }).servers).toEqual([recorded.url]);
      const doctor = await runBin(['doctor', '--dir', dir, '--json'], { LIAISON_SERVER: undefined });
      expect((JSON.parse(doctor.out) as { check: string; status: string }[]).find((f) => f.check === 'exchange policy')?.status).toBe('ok');
      const elsewhere = await runBin(['audit', 'verify', '--dir', dir], { LIAISON_SERVER: `nats://127.0.0.1:${await freePort()}` });
      expect(elsewhere.code).toBe(1);
      expect(elsewhere.err).toContain('ERR_CONNECT');
    } finally {
      up.child.kill('SIGTERM');
      await up.done;
    }
  }, 150_000);
});
