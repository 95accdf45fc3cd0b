import { readFile } from 'node:fs/promises';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, credsAuthenticator, headers as natsHeaders, type Msg } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES_USER, servicesUserPermissions } from '../services/exchange/service-host.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { Serving } from '../services/sdk/client/rpc.ts';
import { DIRECTORY_REQUEST_SUBJECTS, REPLAY_SUBJECTS, RETRACT_SUBJECTS, bucketName, directoryRequestSubject, inboxPrefix, replaySubject, retractSubject, serviceSubject, streamName } from '../services/sdk/subjects.ts';
import { issueUser, trustPaths } from '../services/trust/index.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { RawAgency } from './support/violations.ts';

/**
 * The confused deputy (issue 12, finding 1). NATS checks the subject a client publishes to, never the
 * reply subject it names. A service that answered any reply subject would publish, with its own rights,
 * wherever a requester asked: the NGO emptied LIAISON_REFERRALS by naming `$JS.API.STREAM.PURGE…` as the
 * reply of a replay request. Every service — the exchange's and an agency's `serve` — must answer only
 * inside the requesting agency's own inbox, and the broker must bound what a service could publish anyway.
 */
const ROGUE = 'xa-ngo-harbour';
const POLICE = 'xa-border-police';
const NCB = 'xc-ncb';
const CASES = 'mac-cases';
const CHECK = { documentNumber: 'XA4417702', issuingCountry: 'XAA' };

describe('no agency acts through a service: replies go only inside the caller’s own inbox', () => {
  let fed: TestFederation;
  let rogue: RawAgency;
  let police: LiaisonClient;
  let ncb: LiaisonClient;
  let serving: Serving;
  let jsm: JetStreamManager;
  let cases: KV;
  const documents = streamName('documents');

  /** Every effect a deputy could have had: stream sizes, a victim's KV entry, what reached the victim's inbox. */
  async function snapshot(): Promise<{ documents: number; referrals: number; kv: string | undefined }> {
    const [d, r] = await Promise.all([jsm.streams.info(documents), jsm.streams.info(streamName('referrals'))]);
    const e = await cases.get('probe');
    return { documents: d.state.messages, referrals: r.state.messages, kv: e?.string() };
  }

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [ROGUE, POLICE, NCB, CASES], name: 'deputy' });
    rogue = await RawAgency.connect(fed.server.url, fed.agencyDirs[ROGUE]!, ROGUE);
    [police, ncb] = await Promise.all([fed.connect(POLICE), fed.connect(NCB)]);
    serving = await ncb.serve({ DocumentCheckRequest: (req) => ({ type: 'DocumentCheckResult', body: { requestId: req.header.id, outcome: 'CHECK_OUTCOME_NO_HIT' } }) });
    jsm = await jetstreamManager(fed.exchange.admin);
    cases = await new Kvm(fed.exchange.admin).open(bucketName(CASES, 'cases'));
    await cases.put('probe', 'the case registry wrote this');
    await police.send('DocumentReport', { documentNumber: 'XA0000001', issuingCountry: 'XAA', documentType: 'DOCUMENT_TYPE_PASSPORT', status: 'DOCUMENT_STATUS_STOLEN' }, { to: 'all' });
  });
  afterAll(async () => {
    await rogue?.close();
    await fed?.stop();
  });

  const deputyTargets = (): [string, string][] => [
    ['purge a family stream', `$JS.API.STREAM.PURGE.${documents}`],
    ['delete a family stream', `$JS.API.STREAM.DELETE.${documents}`],
    ["overwrite another agency's KV entry", `$KV.${bucketName(CASES, 'cases')}.probe`],
    ["store a message under another agency's sender subject", `liaison.v1.operational.documents.DocumentReport.${POLICE}.all`],
    ["inject into another agency's inbox", `${inboxPrefix(POLICE)}.injected`],
  ];

  it('the exchange’s replay, retraction and directory services drop a request whose reply lies outside the caller’s inbox — nothing changes', async () => {
    const before = await snapshot();
    const dropped0 = fed.exchange.services.stats.dropped;
    const victimInbox: Msg[] = [];
    const policeRaw = await RawAgency.connect(fed.server.url, fed.agencyDirs[POLICE]!, POLICE);
    policeRaw.nc.subscribe(`${inboxPrefix(POLICE)}.>`, { callback: (_e, m) => void victimInbox.push(m) });
    await policeRaw.nc.flush();
    const requests: [string, string][] = [
      [replaySubject(ROGUE), JSON.stringify({ positions: {} })],
      [retractSubject(ROGUE), JSON.stringify({ op: 'status', originalId: '01900000-0000-7000-8000-000000000000' })],
      [directoryRequestSubject(ROGUE), ''],
    ];
    for (const [subject, body] of requests) for (const [, target] of deputyTargets()) rogue.nc.publish(subject, body, { reply: target });
    await rogue.nc.flush();
    await new Promise((r) => setTimeout(r, 800));
    expect(rogue.violations).toEqual([]);
    expect(await snapshot()).toEqual(before);
    expect(victimInbox).toEqual([]);
    expect(fed.exchange.services.stats.dropped - dropped0).toBe(requests.length * deputyTargets().length);
    expect(fed.exchange.services.stats.recent.at(-1)).toMatchObject({ agency: ROGUE });
    await policeRaw.close();
  });

  it('control: the same requests with the caller’s own inbox are answered', async () => {
    const dir = await rogue.nc.request(directoryRequestSubject(ROGUE), '', { timeout: 3_000 });
    expect(dir.string().split('.')).toHaveLength(3);
    const replay = await rogue.nc.request(replaySubject(ROGUE), JSON.stringify({ positions: {} }), { timeout: 3_000 });
    expect(JSON.parse(replay.string())).toEqual({ ok: true, reset: [] });
  });

  it('the audit ledger records a request whose reply lay outside the requester’s inbox', async () => {
    rogue.nc.publish(replaySubject(ROGUE), JSON.stringify({ positions: {} }), { reply: `$JS.API.STREAM.PURGE.${documents}` });
    await rogue.nc.flush();
    await new Promise((r) => setTimeout(r, 500));
    const ledger = await jsm.streams.info('LIAISON_AUDIT');
    const entries: { kind: string; requester?: string; mismatch?: string[] }[] = [];
    for (let seq = Math.max(1, ledger.state.last_seq - 60); seq <= ledger.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage('LIAISON_AUDIT', { seq }).catch(() => undefined);
      if (m) entries.push(m.json());
    }
    expect(entries.some((e) => e.kind === 'query' && e.requester === ROGUE && e.mismatch?.includes('reply'))).toBe(true);
  });

  it('an agency’s own service (SDK serve) answers only inside its requester’s inbox', async () => {
    const before = await snapshot();
    const dropped0 = serving.dropped;
    const copy = police.seal('DocumentCheckRequest', CHECK, { to: NCB }).copies[0]!;
    const h = natsHeaders();
    for (const [k, v] of Object.entries(copy.headers)) h.set(k, v);
    const subject = serviceSubject('documents', 'DocumentCheckRequest', POLICE);
    const targets = [...deputyTargets().map(([, t]) => t).filter((t) => !t.startsWith(inboxPrefix(POLICE))), `${inboxPrefix(ROGUE)}.stolen-answer`];
    for (const target of targets) police.nc.publish(subject, copy.data, { reply: target, headers: h });
    await police.nc.flush();
    await new Promise((r) => setTimeout(r, 800));
    expect(await snapshot()).toEqual(before);
    expect(serving.dropped - dropped0).toBe(targets.length);
    // Control: the same signed request with police's own inbox is answered.
    const ok = await police.nc.request(subject, copy.data, { headers: h, timeout: 3_000 });
    expect(ok.data.byteLength).toBeGreaterThan(0);
  });

  it('a request on another agency’s request subject is refused by the broker', async () => {
    const copy = police.seal('DocumentCheckRequest', CHECK, { to: NCB }).copies[0]!;
    const spoofed = serviceSubject('documents', 'DocumentCheckRequest', POLICE);
    rogue.nc.publish(spoofed, copy.data);
    expect(await rogue.refused(spoofed)).toBe(true);
    for (const s of [directoryRequestSubject(POLICE), replaySubject(POLICE), retractSubject(POLICE)]) {
      rogue.nc.publish(s, '');
      expect(await rogue.refused(s), s).toBe(true);
    }
  });

  it('a serving agency that answers a forged reply subject itself is stopped by the broker: it may publish only into its requesters’ inboxes', async () => {
    const rawNcb = await RawAgency.connect(fed.server.url, fed.agencyDirs[NCB]!, NCB);
    try {
      rawNcb.nc.publish(`$JS.API.STREAM.PURGE.${documents}`, '{}');
      expect(await rawNcb.refused(`$JS.API.STREAM.PURGE.${documents}`)).toBe(true);
      const got = new Promise<Msg>((resolve) => rawNcb.nc.subscribe(serviceSubject('documents', 'DocumentCheckRequest', '*'), { max: 1, callback: (_e, m) => resolve(m) }));
      await rawNcb.nc.flush();
      police.nc.publish(serviceSubject('documents', 'DocumentCheckRequest', POLICE), 'x', { reply: `$KV.${bucketName(CASES, 'cases')}.probe` });
      const req = await got;
      req.respond('forged answer');
      expect(await rawNcb.refused(`$KV.${bucketName(CASES, 'cases')}.probe`)).toBe(true);
      expect((await cases.get('probe'))?.string()).toBe('the case registry wrote this');
      // Control: answering inside a permitted requester's inbox is allowed.
      const before = rawNcb.violations.length;
      rawNcb.nc.publish(`${inboxPrefix(POLICE)}.answer`, 'ok');
      await rawNcb.nc.flush();
      await new Promise((r) => setTimeout(r, 300));
      expect(rawNcb.violations.length).toBe(before);
    } finally {
      await rawNcb.close();
    }
  });

  it('the exchange services’ own NATS user cannot publish to JetStream, KV, object, system or message subjects', async () => {
    const perms = servicesUserPermissions(Object.keys(fed.exchange.policy.agencies), [DIRECTORY_REQUEST_SUBJECTS, REPLAY_SUBJECTS, RETRACT_SUBJECTS]);
    expect(perms.pub.allow.every((s) => s.startsWith('_INBOX_') && s.endsWith('.>'))).toBe(true);
    const accountSeed = (await readFile(trustPaths(fed.trustDir).accountSeed, 'utf8')).trim();
    const user = await issueUser({ accountSigner: accountSeed, name: SERVICES_USER, permissions: perms });
    const nc = await connect({ servers: fed.server.url, tls: fed.tls, authenticator: credsAuthenticator(new TextEncoder().encode(user.creds)), reconnect: false });
    const refused: string[] = [];
    void (async () => {
      for await (const s of nc.status()) if (s.type === 'error' && 'subject' in s.error) refused.push(String((s.error as { subject: string }).subject));
    })();
    const forbidden = [`$JS.API.STREAM.PURGE.${documents}`, `$KV.${bucketName(CASES, 'cases')}.probe`, `$O.${bucketName(NCB, 'snapshots')}.M.x`, '$SYS.REQ.SERVER.PING', `liaison.v1.operational.documents.DocumentReport.${POLICE}.all`, 'liaison.v1.status.ping'];
    for (const s of forbidden) nc.publish(s, 'x');
    nc.publish(`${inboxPrefix(POLICE)}.fine`, 'x');
    await nc.flush();
    await new Promise((r) => setTimeout(r, 500));
    await nc.close();
    expect(refused.sort()).toEqual([...forbidden].sort());
    expect((await cases.get('probe'))?.string()).toBe('the case registry wrote this');
  });
});
