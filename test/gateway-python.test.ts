import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { call } from './support/gateway.ts';
import { ROOT, runBin, startBin, type BinProcess } from './support/liaison-bin.ts';

const run = promisify(execFile);
const CLIENT = join(ROOT, 'examples/python/liaison_gateway.py');
const POLICE = 'xa-border-police';
const NGO = 'xa-ngo-harbour';

/** `liaison gateway token create` for an agency: the token it prints. */
async function token(dir: string, scopes: string): Promise<string> {
  const r = await runBin(['gateway', 'token', 'create', '--as', dir, '--scopes', scopes, '--label', 'python']);
  expect(r.code, r.err).toBe(0);
  return r.out.trim();
}

/** `liaison gateway up` on a free port; resolves with the process and its URL. */
async function gatewayUp(dir: string): Promise<{ proc: BinProcess; url: string }> {
  const proc = startBin(['gateway', 'up', '--as', dir, '--port', '0']);
  await proc.waitFor(/gateway up as \S+ at http:\/\/127\.0\.0\.1:\d+/);
  return { proc, url: /at (http:\/\/127\.0\.0\.1:\d+)/.exec(proc.out())![1]! };
}

async function python(url: string, tok: string, args: string[]): Promise<{ out: string; err: string; code: number }> {
  try {
    const r = await run('python3', [CLIENT, '--url', url, '--token', tok, ...args], { timeout: 60_000 });
    return { out: r.stdout, err: r.stderr, code: 0 };
  } catch (e) {
    const x = e as { stdout: string; stderr: string; code: number };
    return { out: x.stdout, err: x.stderr, code: x.code };
  }
}

describe('a client in another language: the python3 standard-library example against two `liaison gateway up` processes', () => {
  let fed: TestFederation;
  const procs: BinProcess[] = [];
  let police: { url: string; token: string };
  let ngo: { url: string; token: string };

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [POLICE, NGO], name: 'gateway-python' });
    const [pt, nt] = [await token(fed.agencyDirs[POLICE]!, 'send,receive'), await token(fed.agencyDirs[NGO]!, 'send,receive')];
    const [pg, ng] = await Promise.all([gatewayUp(fed.agencyDirs[POLICE]!), gatewayUp(fed.agencyDirs[NGO]!)]);
    procs.push(pg.proc, ng.proc);
    police = { url: pg.url, token: pt };
    ngo = { url: ng.url, token: nt };
  }, 90_000);
  afterAll(async () => {
    for (const p of procs) {
      p.child.kill('SIGTERM');
      await p.done;
    }
    await fed?.stop();
  });

  it('sends, receives (long poll and SSE) and acknowledges; a refusal comes back as the Liaison code and rule', async () => {
    const body = JSON.stringify({ kind: 'REFERRAL_KIND_PROTECTION', summary: 'Sent from Python.', consentRecorded: true });
    const sent = await python(police.url, police.token, ['send', 'CaseReferral', '--to', NGO, '--tlp', 'AMBER', '--body', body, '--idempotency-key', 'py-1']);
    expect(sent.code, sent.err).toBe(0);
    const receipt = JSON.parse(sent.out);
    expect(receipt.copies[0].recipients).toContain(NGO);

    const got = await python(ngo.url, ngo.token, ['receive', '--count', '1', '--wait', '10']);
    expect(got.code, got.err).toBe(0);
    const m = JSON.parse(got.out.trim().split('\n')[0]!);
    expect(m).toMatchObject({ sender: POLICE, id: receipt.id, type: 'CaseReferral', body: { summary: 'Sent from Python.' } });
    // Acknowledged by the Python client: the gateway holds nothing more of it.
    const again = await call(ngo.url, 'POST', m.ack, { token: ngo.token });
    expect(again.status).toBe(404);

    const second = await python(police.url, police.token, ['send', 'CaseReferral', '--to', NGO, '--body', body]);
    expect(second.code, second.err).toBe(0);
    const viaSse = await python(ngo.url, ngo.token, ['receive', '--count', '1', '--sse']);
    expect(viaSse.code, viaSse.err).toBe(0);
    expect(JSON.parse(viaSse.out.trim()).id).toBe(JSON.parse(second.out).id);

    const refused = await python(police.url, police.token, ['send', 'CaseReferral', '--to', NGO, '--tlp', 'RED', '--body', body]);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.err)).toMatchObject({ status: 403, code: 'ERR_POLICY_HANDLING_DENIED', rule: 'roles.ngo.receive[0]' });
  }, 90_000);

  it('`gateway up` refuses a non-loopback address without TLS', async () => {
    const r = await runBin(['gateway', 'up', '--as', fed.agencyDirs[POLICE]!, '--host', '0.0.0.0', '--port', '0']);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('ERR_TLS');
  }, 60_000);
});
