/**
 * `liaison bridge up` without either trust dir (issue 17): each federation hands the bridge operator a kit
 * (`liaison bridge export-kit`: its two bridge users' creds at 0600, its exchange's URL and CA, the agreement signed
 * by both roots) and `liaison bridge up --kit A --kit B` runs the bridge from those alone. Two real federations
 * (own roots, own nats-servers), the CLI in process.
 */
import { chmod, cp, mkdtemp, readdir, rm, stat, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../services/cli/main.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { applyAgreement, connectAcross, POLICE_ATL_TO_MED, POLICE_MED_TO_ATL } from './support/bridge.ts';
import { createTwoFederations, type TwoFederations } from './support/two-federations.ts';
import { until } from './support/workflows.ts';

const ID = 'med-atl';
const TYPE = 'IntelligenceReport';
const FLOWS = [POLICE_MED_TO_ATL, POLICE_ATL_TO_MED];

let feds: TwoFederations;
let work: string;
let medKit: string;
let atlKit: string;

/** Run the CLI in process; `stop` resolves its interrupt (what SIGINT does). */
function cli(argv: string[]): { code: Promise<number>; out: string[]; stop(): void } {
  const out: string[] = [];
  let stop = () => undefined as void;
  const interrupted = new Promise<void>((r) => (stop = r));
  const code = runCli(argv, { out: (l) => out.push(l), err: (l) => out.push(l), interrupted });
  return { code, out, stop };
}

beforeAll(async () => {
  feds = await createTwoFederations({ med: ['xa-border-police'], atl: ['xb-police'] });
  await applyAgreement(feds, ID, FLOWS);
  work = await mkdtemp(join(tmpdir(), 'liaison-kit-'));
  medKit = join(work, 'med-kit');
  atlKit = join(work, 'atl-kit');
  for (const [f, out] of [
    [feds.med, medKit],
    [feds.atl, atlKit],
  ] as const) {
    const r = cli(['bridge', 'export-kit', '--trust', f.trustDir, '--agreement', ID, '--out', out, '--server', f.server.url]);
    expect(await r.code, r.out.join('\n')).toBe(0);
  }
}, 120_000);

afterAll(async () => {
  await feds?.stop();
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

describe('bridge kits', () => {
  it('a kit holds only the two bridge users’ creds (0600), the exchange’s URLs and CA, and the signed agreement', async () => {
    expect((await readdir(medKit)).sort()).toEqual(['agreement.signed.json', 'ca.pem', 'export.creds', 'import.creds', 'kit.json']);
    for (const f of ['export.creds', 'import.creds']) expect((await stat(join(medKit, f))).mode & 0o777).toBe(0o600);
    const manifest = JSON.parse(await readFile(join(medKit, 'kit.json'), 'utf8'));
    expect(manifest).toEqual({ version: 1, federation: 'med', agreement: ID, servers: [feds.med.server.url], tls: true });
  });

  it('bridge up --kit A --kit B carries messages both ways without either trust dir, and relays each side’s directory', async () => {
    // The kits alone, moved away from the trust dirs' tree.
    const run = cli(['bridge', 'up', '--kit', medKit, '--kit', atlKit]);
    let medPolice: LiaisonClient | undefined;
    let atlPolice: LiaisonClient | undefined;
    try {
      // Each side's directory reached the other through the bridge (the kit's export user asks its exchange for it).
      ({ med: medPolice, atl: atlPolice } = await connectAcross(feds, 'xa-border-police', 'xb-police', 20_000));
      const atlGot: ReceivedMessage[] = [];
      const medGot: ReceivedMessage[] = [];
      await atlPolice.consume((m) => void atlGot.push(m), { types: [TYPE] });
      await medPolice.consume((m) => void medGot.push(m), { types: [TYPE] });
      const out = await medPolice.send(TYPE, { summary: 'through the kits' }, { to: 'atl:xb-police' });
      const back = await atlPolice.send(TYPE, { summary: 'and back' }, { to: 'med:xa-border-police' });
      await until(() => atlGot.some((m) => m.header.id === out.id), 20_000, 'med → atl');
      await until(() => medGot.some((m) => m.header.id === back.id), 20_000, 'atl → med');
      expect(atlGot.find((m) => m.header.id === out.id)!.header.sender).toBe('med:xa-border-police');
      expect(medGot.find((m) => m.header.id === back.id)!.header.sender).toBe('atl:xb-police');
    } finally {
      run.stop();
      await medPolice?.close();
      await atlPolice?.close();
    }
    expect(await run.code, run.out.join('\n')).toBe(0);
    expect(run.out.join('\n')).toMatch(/bridge med-atl up between med .* and atl/);
  }, 90_000);

  it('refuses creds accessible by group or others (ERR_KEY_FILE_MODE) and starts nothing', async () => {
    const loose = join(work, 'loose-kit');
    await cp(medKit, loose, { recursive: true });
    await chmod(join(loose, 'import.creds'), 0o644);
    const r = cli(['bridge', 'up', '--kit', loose, '--kit', atlKit]);
    expect(await r.code).toBe(1);
    expect(r.out.join('\n')).toMatch(/ERR_KEY_FILE_MODE: .*import\.creds has mode 0644/);
    expect(r.out.join('\n')).not.toMatch(/bridge .* up/);
  });

  it.each([['export.creds'], ['ca.pem'], ['agreement.signed.json'], ['kit.json']])('a kit without %s is a usage error (exit 2) naming the file', async (file) => {
    const partial = join(work, `kit-without-${file}`);
    await cp(atlKit, partial, { recursive: true });
    await rm(join(partial, file));
    const r = cli(['bridge', 'up', '--kit', medKit, '--kit', partial]);
    expect(await r.code).toBe(2);
    expect(r.out.join('\n')).toContain(`ERR_USAGE: bridge kit file ${join(partial, file)}`);
  });

  it('two kits of one side, one kit, or a kit whose agreement was altered are refused', async () => {
    const same = cli(['bridge', 'up', '--kit', medKit, '--kit', medKit]);
    expect(await same.code).toBe(2);
    expect(same.out.join('\n')).toMatch(/both kits are med's/);
    const one = cli(['bridge', 'up', '--kit', medKit]);
    expect(await one.code).toBe(2);
    const altered = join(work, 'altered-kit');
    await cp(atlKit, altered, { recursive: true });
    const doc = JSON.parse(await readFile(join(altered, 'agreement.signed.json'), 'utf8'));
    doc.text = doc.text.replace('tier: personal', 'tier: special');
    await writeFile(join(altered, 'agreement.signed.json'), JSON.stringify(doc));
    const bad = cli(['bridge', 'up', '--kit', medKit, '--kit', altered]);
    expect(await bad.code).toBe(1);
    expect(bad.out.join('\n')).toMatch(/ERR_AGREEMENT_INVALID/);
  });
});
