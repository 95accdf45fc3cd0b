import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../services/cli/main.ts';
import { createTestFederation, EXAMPLE_POLICY, type TestFederation } from './support/federation.ts';

interface Run {
  code: number;
  out: string;
  err: string;
}

async function cli(argv: string[], interrupted: Promise<void> = new Promise(() => undefined)): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l), interrupted });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('liaison CLI: usage and offline commands', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'liaison-cli-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('no command prints help and exits 2; --help exits 0', async () => {
    const none = await cli([]);
    expect(none.code).toBe(2);
    expect(none.out).toContain('trust init');
    expect((await cli(['--help'])).code).toBe(0);
    const sub = await cli(['send', '--help']);
    expect(sub.code).toBe(0);
    expect(sub.out).toContain('--type');
  });

  it('an unknown command or option, or a missing required option, is a one-line ERR_USAGE with exit 2', async () => {
    const unknown = await cli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/^liaison: ERR_USAGE: unknown command/);
    const badOpt = await cli(['trust', 'init', '--dir', work, '--policy', EXAMPLE_POLICY, '--colour', 'red']);
    expect(badOpt.code).toBe(2);
    expect(badOpt.err).toContain('ERR_USAGE');
    const missing = await cli(['trust', 'enrol', '--dir', work]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('--agency');
  });

  it('policy check accepts the example policy and names file, line and key of an invalid one', async () => {
    const ok = await cli(['policy', 'check', EXAMPLE_POLICY]);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('valid');
    const bad = join(work, 'bad.yaml');
    await writeFile(bad, 'version: 1\nname: bad\nroles:\n  ngo:\n    receive:\n      - types: [CaseReferral]\n        tier: secret\n        scope: direct\nagencies: {}\n');
    const res = await cli(['policy', 'check', bad]);
    expect(res.code).toBe(1);
    expect(res.err).toContain('ERR_POLICY_INVALID');
    expect(res.err).toContain(`${bad}:7`);
    expect(res.err).toContain('tier');
  });

  it('trust init + enrol write private files with mode 0600, and a key file opened up to 0644 is refused', async () => {
    const dir = join(work, 'trust');
    const init = await cli(['trust', 'init', '--dir', dir, '--policy', EXAMPLE_POLICY]);
    expect(init.code, init.err).toBe(0);
    const again = await cli(['trust', 'init', '--dir', dir, '--policy', EXAMPLE_POLICY]);
    // A --dir that already holds a federation is an invalid argument (ERR_CONFIG_INVALID): exit 2, nothing overwritten.
    expect(again.err).toContain('ERR_CONFIG_INVALID');
    expect(again.code).toBe(2);
    const out = join(work, 'agency');
    const enrol = await cli(['trust', 'enrol', '--dir', dir, '--agency', 'xa-border-police', '--out', out]);
    expect(enrol.code, enrol.err).toBe(0);
    expect((await stat(join(out, 'signing-key.jwk'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(out, 'nats.creds'))).mode & 0o777).toBe(0o600);
    const stranger = await cli(['trust', 'enrol', '--dir', dir, '--agency', 'not-in-policy', '--out', join(work, 'x')]);
    expect(stranger.code).toBe(1);
    expect(stranger.err).toContain('ERR_AGENCY_UNKNOWN');
    await chmod(join(out, 'signing-key.jwk'), 0o644);
    const send = await cli(['send', '--as', out, '--type', 'DocumentReport', '--json', '{}']);
    expect(send.code).toBe(1);
    expect(send.err).toContain('ERR_KEY_FILE_MODE');
    expect(send.err).toContain('chmod 600');
  });

  it('send with invalid JSON or a bad --handling is refused before connecting', async () => {
    const badJson = await cli(['send', '--as', join(work, 'agency'), '--type', 'DocumentReport', '--json', '{nope']);
    expect(badJson.code).toBe(1);
    expect(badJson.err).toContain('ERR_BODY_INVALID');
    const badHandling = await cli(['send', '--as', join(work, 'agency'), '--type', 'DocumentReport', '--json', '{}', '--handling', 'H9']);
    expect(badHandling.code).toBe(2);
    expect(badHandling.err).toContain('--handling');
  });
});

describe('liaison CLI against a running exchange', () => {
  let fed: TestFederation;
  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['xa-border-police', 'mac-centre'], name: 'cli' });
  });
  afterAll(async () => {
    await fed?.stop();
  });

  it('send prints one line per tier copy, and tail prints the verified message as a JSON line', async () => {
    const body = JSON.stringify({ documentNumber: 'XA7654321', issuingCountry: 'XAA', documentType: 'DOCUMENT_TYPE_PASSPORT', status: 'DOCUMENT_STATUS_LOST' });
    const sent = await cli(['send', '--as', fed.agencyDirs['xa-border-police']!, '--type', 'DocumentReport', '--json', body, '--case', 'CASE-CLI-1']);
    expect(sent.code, sent.err).toBe(0);
    expect(sent.out).toMatch(/liaison\.v1\.\w+\.documents\.DocumentReport\.xa-border-police\.all/);
    // --consume: the next test counts what is left on the consumer (a plain tail would leave this copy there).
    const tail = await cli(['tail', '--as', fed.agencyDirs['mac-centre']!, '--type', 'Document*', '--json', '--max', '1', '--consume']);
    expect(tail.code, tail.err).toBe(0);
    const line = JSON.parse(tail.out.split('\n')[0]!) as { type: string; sender: string; caseRef: string; body: { documentNumber?: string } };
    expect(line).toMatchObject({ type: 'DocumentReport', sender: 'xa-border-police', caseRef: 'CASE-CLI-1' });
  });

  it('tail --consume --max N acknowledges only what it printed: the next tail gets the rest', async () => {
    const police = fed.agencyDirs['xa-border-police']!;
    const body = (n: string) => JSON.stringify({ documentNumber: n, issuingCountry: 'XAA', documentType: 'DOCUMENT_TYPE_PASSPORT', status: 'DOCUMENT_STATUS_LOST' });
    expect((await cli(['send', '--as', police, '--type', 'DocumentReport', '--json', body('XA0000001')])).code).toBe(0);
    expect((await cli(['send', '--as', police, '--type', 'DocumentReport', '--json', body('XA0000002')])).code).toBe(0);
    const seen: string[] = [];
    for (let i = 0; i < 2; i++) {
      const tail = await cli(['tail', '--as', fed.agencyDirs['mac-centre']!, '--json', '--max', '1', '--consume']);
      expect(tail.code, tail.err).toBe(0);
      const lines = tail.out.split('\n').filter(Boolean);
      expect(lines).toHaveLength(1);
      seen.push((JSON.parse(lines[0]!) as { body: { documentNumber: string } }).body.documentNumber);
    }
    expect(seen.sort()).toEqual(['XA0000001', 'XA0000002']);
  });

  it('sending an unknown type or a body that violates the schema names the problem', async () => {
    const unknown = await cli(['send', '--as', fed.agencyDirs['xa-border-police']!, '--type', 'NoSuchMessage', '--json', '{}']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('ERR_TYPE_UNKNOWN');
    const wrong = await cli(['send', '--as', fed.agencyDirs['xa-border-police']!, '--type', 'DocumentReport', '--json', '{"documentNumber": 42}']);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain('ERR_BODY_INVALID');
    expect(wrong.err).toContain('documentNumber');
  });
});
