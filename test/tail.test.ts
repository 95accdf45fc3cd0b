import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERIFY_RECIPE } from '../services/sdk/envelope/export.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { peekSubject } from '../services/sdk/subjects.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { LIAISON_BIN, runBin } from './support/liaison-bin.ts';
import { RawAgency } from './support/violations.ts';

const report = (n: string) => ({ documentNumber: n, issuingCountry: 'XAA', documentType: 'DOCUMENT_TYPE_PASSPORT', status: 'DOCUMENT_STATUS_LOST' });
/** A tail that finds nothing would follow forever: bounded, so a missing copy fails the assertion instead. */
const tailBin = (args: string[]) => runBin(['tail', ...args], {}, LIAISON_BIN, 40_000);
const numbers = (out: string) => out.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { body: { documentNumber: string } }).body.documentNumber);

/**
 * `liaison tail` watches without taking (issue 14): by default it reads what the agency's consumers would deliver
 * through the exchange's peek service and acknowledges nothing, so a second tail shows the same copies and the
 * agency's real receiver still gets every one; `--consume` takes them, as before. The peek right is the agency's own.
 */
describe('liaison tail does not consume', () => {
  let fed: TestFederation;
  let centre: string;
  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['xa-border-police', 'mac-centre'], name: 'tail' });
    centre = fed.agencyDirs['mac-centre']!;
  }, 120_000);
  afterAll(async () => {
    await fed?.stop();
  });

  it('a message tailed twice shows twice, and the agency’s real receiver still gets it afterwards', async () => {
    const police = await fed.connect('xa-border-police');
    await police.send('DocumentReport', report('XA1000001'));
    await police.close();
    for (let i = 0; i < 2; i++) {
      const t = await tailBin(['--as', centre, '--server', fed.server.url, '--type', 'Document*', '--json', '--max', '1']);
      expect(t.code, t.err).toBe(0);
      expect(numbers(t.out)).toEqual(['XA1000001']);
    }
    const receiver = await fed.connect('mac-centre');
    try {
      const got = await new Promise<ReceivedMessage>((resolve) => void receiver.consume((m) => resolve(m), { types: ['DocumentReport'] }));
      expect((got.body as { documentNumber: string }).documentNumber).toBe('XA1000001');
    } finally {
      await receiver.close();
    }
  }, 120_000);

  it('--consume takes what it prints: a plain tail afterwards shows only what is left', async () => {
    const police = await fed.connect('xa-border-police');
    await police.send('DocumentReport', report('XA2000001'));
    await police.send('DocumentReport', report('XA2000002'));
    await police.close();
    const taken = await tailBin(['--as', centre, '--server', fed.server.url, '--type', 'Document*', '--json', '--max', '1', '--consume']);
    expect(taken.code, taken.err).toBe(0);
    const [first] = numbers(taken.out);
    expect(['XA2000001', 'XA2000002']).toContain(first);
    const left = await tailBin(['--as', centre, '--server', fed.server.url, '--type', 'Document*', '--json', '--max', '1']);
    expect(left.code, left.err).toBe(0);
    expect(numbers(left.out)).toEqual(['XA2000001', 'XA2000002'].filter((n) => n !== first));
  }, 120_000);

  it('--raw DIR writes each copy it shows as raw files that the openssl recipe verifies; with --consume it is a usage error', async () => {
    const police = await fed.connect('xa-border-police');
    // A type no other test here sends, so this copy is the first one waiting for it.
    const sent = await police.send('IntelligenceReport', { summary: 'raw tail' }, { to: 'mac-centre' });
    await police.close();
    const dir = await mkdtemp(join(tmpdir(), 'liaison-tail-raw-'));
    try {
      const t = await tailBin(['--as', centre, '--server', fed.server.url, '--type', 'IntelligenceReport', '--json', '--max', '1', '--raw', dir]);
      expect(t.code, t.err).toBe(0);
      const mine = await readdir(dir);
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatch(new RegExp(`^xa-border-police-${sent.id}-(operational|personal|special)$`));
      const r = spawnSync('bash', ['-c', VERIFY_RECIPE.join(' && ')], { cwd: join(dir, mine[0]!), encoding: 'utf8' });
      expect(`${r.stdout}${r.stderr}`).toContain('Signature Verified Successfully');
      const both = await tailBin(['--as', centre, '--raw', dir, '--consume']);
      expect(both.code).toBe(2);
      expect(both.err).toContain('drop --consume');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('an agency cannot peek at another agency’s copies: the broker refuses its publish on their peek subject', async () => {
    const rogue = await RawAgency.connect(fed.server.url, centre, 'mac-centre');
    try {
      const victim = peekSubject('xa-border-police');
      rogue.nc.publish(victim, '{}');
      expect(await rogue.refused(victim)).toBe(true);
      // Its own peek answers, with its own consumers only.
      const own = JSON.parse((await rogue.nc.request(peekSubject('mac-centre'), JSON.stringify({ cursors: { 'xa-border-police__DocumentReport__all': 0 } }), { timeout: 5_000 })).string()) as { ok: boolean; error?: string };
      expect(own).toMatchObject({ ok: false });
      expect(own.error).toMatch(/^ERR_PERMISSION_DENIED: xa-border-police__DocumentReport__all is not a consumer of mac-centre/);
    } finally {
      await rogue.close();
    }
  }, 60_000);
});
