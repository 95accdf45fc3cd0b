import { appendFile, chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AckPolicy, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../services/cli/main.ts';
import { checkAgency } from '../services/doctor/agency.ts';
import { checkFederation } from '../services/doctor/federation.ts';
import { recordEnforcedPolicy } from '../services/exchange/enforced.ts';
import type { Finding } from '../services/doctor/finding.ts';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';
import { trustPaths } from '../services/trust/index.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';

const problem = (fs: Finding[], check: string) => fs.find((f) => f.check === check && f.status !== 'ok');

describe('liaison doctor finds misconfigurations and names the fix', () => {
  let fed: TestFederation;
  let police: string;
  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['xa-border-police', 'mac-centre'], name: 'doctor' });
    police = fed.agencyDirs['xa-border-police']!;
  });
  afterAll(async () => fed?.stop());

  it('a healthy agency and federation: no problems, exit 0', async () => {
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l), interrupted: new Promise<void>(() => undefined) };
    expect(await runCli(['doctor', '--as', police], io)).toBe(0);
    expect(out.at(-1)).toBe('no problems found');
    expect(out.join('\n')).toMatch(/ok +consumers +all \d+ durable consumers/);
    out.length = 0;
    expect(await runCli(['doctor', '--dir', fed.trustDir, '--server', fed.server.url], io)).toBe(0);
  });

  it('an exchange that enforces another policy than the directory’s is reported, with the fix', async () => {
    const tc = typeCatalogOf(fed.catalog);
    const before = await checkFederation({ dir: fed.trustDir, server: fed.server.url, catalog: tc });
    expect(before.find((f) => f.check === 'exchange policy')?.status).toBe('ok');
    // The exchange says it still enforces an older policy (as one that missed `policy apply` would).
    await recordEnforcedPolicy(fed.exchange.admin, { ...fed.exchange.policy, hash: 'f'.repeat(64) });
    try {
      const f = problem(await checkFederation({ dir: fed.trustDir, server: fed.server.url, catalog: tc }), 'exchange policy');
      expect(f?.status).toBe('error');
      expect(f?.detail).toContain('ffffffffffffffff');
      expect(f?.fix).toMatch(/restart/);
    } finally {
      await recordEnforcedPolicy(fed.exchange.admin, fed.exchange.policy);
    }
  });

  it('clock skew, a wrong server, a missing consumer, a stray consumer, a key readable by others, a policy edited by hand', async () => {
    // 1. clock skew: this host ten minutes ahead of the exchange.
    const skewed = await checkAgency({ dir: police, clock: { now: () => Date.now() + 600_000 } });
    expect(problem(skewed, 'clock skew')).toMatchObject({ status: 'error', fix: expect.stringContaining('NTP') });
    // 2. a wrong server.
    const nowhere = await checkAgency({ dir: police, servers: ['nats://127.0.0.1:1'] });
    expect(problem(nowhere, 'reachability')?.fix).toContain('exchange up');
    // 3. a consumer the policy grants was deleted; 4. a consumer nobody granted was added.
    const jsm = await jetstreamManager(fed.exchange.admin);
    await jsm.consumers.delete('LIAISON_DOCUMENTS', 'xa-border-police__DocumentHitNotice__direct');
    await jsm.consumers.add('LIAISON_DOCUMENTS', { durable_name: 'rogue-tap', ack_policy: AckPolicy.Explicit, filter_subject: 'liaison.v1.personal.documents.>' });
    const agency = await checkAgency({ dir: police });
    expect(problem(agency, 'consumers')).toMatchObject({ status: 'error', detail: expect.stringContaining('xa-border-police__DocumentHitNotice__direct') });
    const federation = await checkFederation({ dir: fed.trustDir, server: fed.server.url, catalog: typeCatalogOf(fed.catalog) });
    expect(problem(federation, 'provisioning')?.fix).toContain('policy apply');
    expect(problem(federation, 'stray consumers')?.detail).toContain('rogue-tap');
    await fed.exchange.reprovision();
    expect(problem(await checkAgency({ dir: police }), 'consumers')).toBeUndefined();
    // 5. the signing key made readable by others.
    await chmod(join(police, 'signing-key.jwk'), 0o644);
    try {
      const loose = await checkAgency({ dir: police });
      expect(problem(loose, 'signing key mode')).toMatchObject({ status: 'error', fix: `chmod 600 ${join(police, 'signing-key.jwk')}` });
    } finally {
      await chmod(join(police, 'signing-key.jwk'), 0o600);
    }
    // 6. policy.yaml edited by hand (the directory the agencies get no longer carries it).
    const file = trustPaths(fed.trustDir).policy;
    const original = await readFile(file, 'utf8');
    await appendFile(file, '# edited by hand\n');
    try {
      const edited = await checkFederation({ dir: fed.trustDir, catalog: typeCatalogOf(fed.catalog) });
      expect(problem(edited, 'directory')?.fix).toContain('liaison policy apply');
    } finally {
      await writeFile(file, original);
    }
  });

  it('expired credentials: the credential and the NATS user are reported expired and the exchange refuses them, with the fix', async () => {
    const dir = await fed.enrolWith('xa-coast-guard', { ttlSeconds: 1 });
    await new Promise((r) => setTimeout(r, 2_200));
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l), interrupted: new Promise<void>(() => undefined) };
    expect(await runCli(['doctor', '--as', dir], io)).toBe(1);
    const text = out.join('\n');
    expect(text).toMatch(/FAIL {2}credential expiry +the agency credential expired/);
    expect(text).toMatch(/FAIL {2}NATS user expiry/);
    expect(text).toMatch(/FAIL {2}reachability .*refuses these credentials/);
    expect(text).toContain('--reissue');
  });
});
