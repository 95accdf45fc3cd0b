import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { createToken } from '../services/gateway/tokens.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { call } from './support/gateway.ts';
import { startBin, type BinProcess } from './support/liaison-bin.ts';

const POLICE = 'xa-border-police';
const NGO = 'xa-ngo-harbour';
const REFERRAL = { kind: 'REFERRAL_KIND_PROTECTION', summary: 'Delivered to a gateway that then crashed.', consentRecorded: true };

/** `liaison gateway up` on a free port; resolves with the process and its URL. */
async function gatewayUp(dir: string): Promise<{ proc: BinProcess; url: string }> {
  const proc = startBin(['gateway', 'up', '--as', dir, '--port', '0']);
  await proc.waitFor(/gateway up as \S+ at http:\/\/127\.0\.0\.1:\d+/);
  return { proc, url: /at (http:\/\/127\.0\.0\.1:\d+)/.exec(proc.out())![1]! };
}

describe('a gateway process killed with a message handed out but not acknowledged', () => {
  let fed: TestFederation;
  let police: LiaisonClient;
  const procs: BinProcess[] = [];

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [POLICE, NGO], name: 'gateway-crash' });
    police = await fed.connect(POLICE);
  }, 60_000);
  afterAll(async () => {
    for (const p of procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
      await p.done;
    }
    await fed?.stop();
  });

  it('hands it out again after the restart (JetStream redelivers it after its ack wait; the in-doubt copy is not quarantined)', async () => {
    const { token } = await createToken(fed.agencyDirs[NGO]!, ['receive']);
    const first = await gatewayUp(fed.agencyDirs[NGO]!);
    procs.push(first.proc);
    const sent = await police.send('CaseReferral', REFERRAL, { to: NGO, tlp: 'AMBER' });
    let got: any;
    for (let i = 0; i < 20 && !got; i++) {
      const r = await call(first.url, 'GET', '/v1/messages?wait=1', { token });
      got = r.body.messages.find((m: any) => m.id === sent.id);
    }
    expect(got).toMatchObject({ sender: POLICE, id: sent.id });
    first.proc.child.kill('SIGKILL'); // a crash: claimed for the handler, never marked done, never acknowledged
    await first.proc.done;

    const second = await gatewayUp(fed.agencyDirs[NGO]!);
    procs.push(second.proc);
    let again: any;
    const end = Date.now() + 60_000;
    while (!again && Date.now() < end) {
      const r = await call(second.url, 'GET', '/v1/messages?wait=5', { token });
      again = r.body.messages.find((m: any) => m.id === sent.id);
    }
    expect(again).toMatchObject({ sender: POLICE, id: sent.id, body: { summary: REFERRAL.summary } });
    expect((await call(second.url, 'POST', again.ack, { token })).status).toBe(204);
  }, 120_000);
});
