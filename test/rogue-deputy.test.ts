import { readFile } from 'node:fs/promises';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, credsAuthenticator, headers as natsHeaders, type Msg } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES_USER, servicesUserPermissions } from '../services/exchange/service-host.ts';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';
import { compileConsumers } from '../services/sdk/policy/index.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { Serving } from '../services/sdk/client/rpc.ts';
import { DIRECTORY_REQUEST_SUBJECTS, REPLAY_SUBJECTS, RETRACT_SUBJECTS, agencyJsApi, bucketName, directoryRequestSubject, inboxPrefix, peekSubject, quarantineServiceSubject, replaySubject, retractSubject, serviceSubject, streamName } from '../services/sdk/subjects.ts';
import { issueUser, trustPaths } from '../services/trust/index.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { RawAgency } from './support/violations.ts';

/**
 * The confused deputy (issue 12, finding 1). NATS checks the subject a client publishes to, never the
 * reply subject it names. A service that answered any reply subject would publish, with its own rights,
 * wherever a requester asked: the NGO emptied LIAISON_REFERRALS by naming `$JS.API.STREAM.PURGE…` as the
 * reply of a replay request — and JetStream itself is such a service: a pull from one's own consumer with
 * that reply purged the stream. Each agency lives in a NATS account of its own, so every answer to its
 * requests — the exchange's services', JetStream's, a serving agency's — returns into its own account, where
 * no such subject leads anywhere.
 */
const ROGUE = 'xa-ngo-harbour';
const POLICE = 'xa-border-police';
const NCB = 'xc-ncb';
const CASES = 'mac-cases';
const CHECK = { documentNumber: 'XA4417702', issuingCountry: 'XAA' };

describe('no agency acts through a service: every answer returns into the requester’s own account', () => {
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

  it('the exchange’s replay, retraction, directory, quarantine listing and peek services, asked with a forged reply subject, change nothing', async () => {
    const before = await snapshot();
    const victimInbox: Msg[] = [];
    const policeRaw = await RawAgency.connect(fed.server.url, fed.agencyDirs[POLICE]!, POLICE);
    policeRaw.nc.subscribe(`${inboxPrefix(POLICE)}.>`, { callback: (_e, m) => void victimInbox.push(m) });
    await policeRaw.nc.flush();
    const requests: [string, string][] = [
      [replaySubject(ROGUE), JSON.stringify({ positions: {} })],
      [retractSubject(ROGUE), JSON.stringify({ op: 'status', originalId: '01900000-0000-7000-8000-000000000000' })],
      [directoryRequestSubject(ROGUE), ''],
      [quarantineServiceSubject(ROGUE), '{}'],
      [peekSubject(ROGUE), '{}'],
    ];
    const answered0 = fed.exchange.services.stats.answered;
    for (const [subject, body] of requests) for (const [, target] of deputyTargets()) rogue.nc.publish(subject, body, { reply: target });
    await rogue.nc.flush();
    await new Promise((r) => setTimeout(r, 800));
    expect(rogue.violations).toEqual([]);
    // Answered — into the rogue's own account, where none of those subjects leads anywhere.
    expect(fed.exchange.services.stats.answered - answered0).toBe(requests.length * deputyTargets().length);
    expect(await snapshot()).toEqual(before);
    expect(victimInbox).toEqual([]);
    await policeRaw.close();
  });

  it('JetStream itself, asked with a forged reply subject (a pull from one’s own consumer, its info), changes nothing', async () => {
    const own = compileConsumers(fed.exchange.policy, typeCatalogOf(fed.catalog)).find((c) => c.agency === ROGUE && c.type === 'CaseReferral')!;
    await police.send('CaseReferral', { kind: 'REFERRAL_KIND_PROTECTION', summary: 'for the pull', consentRecorded: true }, { to: ROGUE });
    const before = await snapshot();
    for (const [, target] of deputyTargets()) {
      rogue.nc.publish(agencyJsApi(`CONSUMER.MSG.NEXT.${own.stream}.${own.name}`), JSON.stringify({ batch: 1, no_wait: true }), { reply: target });
      rogue.nc.publish(agencyJsApi(`CONSUMER.INFO.${own.stream}.${own.name}`), '', { reply: target });
    }
    await rogue.nc.flush();
    await new Promise((r) => setTimeout(r, 800));
    expect(rogue.violations).toEqual([]);
    expect(await snapshot()).toEqual(before);
    // Control: its own consumer's info, asked with its own inbox, is answered.
    const info = await rogue.nc.request(agencyJsApi(`CONSUMER.INFO.${own.stream}.${own.name}`), '', { timeout: 3_000 });
    expect((info.json() as { name?: string }).name).toBe(own.name);
  });

  it('control: the same requests with the caller’s own inbox are answered', async () => {
    const dir = await rogue.nc.request(directoryRequestSubject(ROGUE), '', { timeout: 3_000 });
    expect(dir.string().split('.')).toHaveLength(3);
    const replay = await rogue.nc.request(replaySubject(ROGUE), JSON.stringify({ positions: {} }), { timeout: 3_000 });
    expect(JSON.parse(replay.string())).toEqual({ ok: true, reset: [] });
  });

  it('an agency’s own service (SDK serve), asked with a forged reply subject, changes nothing', async () => {
    const before = await snapshot();
    const copy = police.seal('DocumentCheckRequest', CHECK, { to: NCB }).copies[0]!;
    const h = natsHeaders();
    for (const [k, v] of Object.entries(copy.headers)) h.set(k, v);
    const subject = serviceSubject('documents', 'DocumentCheckRequest', POLICE);
    const targets = [...deputyTargets().map(([, t]) => t).filter((t) => !t.startsWith(inboxPrefix(POLICE))), `${inboxPrefix(ROGUE)}.stolen-answer`];
    for (const target of targets) police.nc.publish(subject, copy.data, { reply: target, headers: h });
    await police.nc.flush();
    await new Promise((r) => setTimeout(r, 800));
    expect(await snapshot()).toEqual(before);
    // Every request reached the bureau through the exchange's import, with a response route: none was dropped.
    expect(serving.dropped).toBe(0);
    const ok = await police.nc.request(subject, copy.data, { headers: h, timeout: 3_000 });
    expect(ok.data.byteLength).toBeGreaterThan(0);
  });

  it('a request on another agency’s request subject is refused by the broker', async () => {
    const copy = police.seal('DocumentCheckRequest', CHECK, { to: NCB }).copies[0]!;
    const spoofed = serviceSubject('documents', 'DocumentCheckRequest', POLICE);
    rogue.nc.publish(spoofed, copy.data);
    expect(await rogue.refused(spoofed)).toBe(true);
    for (const s of [directoryRequestSubject(POLICE), replaySubject(POLICE), retractSubject(POLICE), quarantineServiceSubject(POLICE), peekSubject(POLICE)]) {
      rogue.nc.publish(s, '');
      expect(await rogue.refused(s), s).toBe(true);
    }
  });

  it('a serving agency that answers a forged reply subject itself reaches nothing: the broker lets it answer only along response routes', async () => {
    const rawNcb = await RawAgency.connect(fed.server.url, fed.agencyDirs[NCB]!, NCB);
    try {
      for (const s of [`$JS.API.STREAM.PURGE.${documents}`, `${inboxPrefix(POLICE)}.answer`, `$KV.${bucketName(CASES, 'cases')}.probe`]) {
        rawNcb.nc.publish(s, '{}');
        expect(await rawNcb.refused(s), s).toBe(true);
      }
      const got = new Promise<Msg>((resolve) => rawNcb.nc.subscribe(serviceSubject('documents', 'DocumentCheckRequest', '*'), { max: 1, callback: (_e, m) => resolve(m) }));
      await rawNcb.nc.flush();
      police.nc.publish(serviceSubject('documents', 'DocumentCheckRequest', POLICE), 'x', { reply: `$KV.${bucketName(CASES, 'cases')}.probe` });
      const req = await got;
      expect(req.reply?.startsWith('_R_.')).toBe(true);
      const before = rawNcb.violations.length;
      req.respond('forged answer');
      await rawNcb.nc.flush();
      await new Promise((r) => setTimeout(r, 300));
      // Allowed (a response route); it lands in the police's own account, where that subject leads nowhere.
      expect(rawNcb.violations.length).toBe(before);
      expect((await cases.get('probe'))?.string()).toBe('the case registry wrote this');
    } finally {
      await rawNcb.close();
    }
  });

  it('the exchange services’ own NATS user may answer only along response routes: not JetStream, KV, object, system, message subjects nor inboxes', async () => {
    const perms = servicesUserPermissions([DIRECTORY_REQUEST_SUBJECTS, REPLAY_SUBJECTS, RETRACT_SUBJECTS]);
    expect(perms.pub.allow).toEqual(['_R_.>']);
    const accountSeed = (await readFile(trustPaths(fed.trustDir).accountSeed, 'utf8')).trim();
    const user = await issueUser({ accountSigner: accountSeed, name: SERVICES_USER, permissions: perms });
    const nc = await connect({ servers: fed.server.url, tls: fed.tls, authenticator: credsAuthenticator(new TextEncoder().encode(user.creds)), reconnect: false });
    const refused: string[] = [];
    void (async () => {
      for await (const s of nc.status()) if (s.type === 'error' && 'subject' in s.error) refused.push(String((s.error as { subject: string }).subject));
    })();
    const forbidden = [`$JS.API.STREAM.PURGE.${documents}`, `$KV.${bucketName(CASES, 'cases')}.probe`, `$O.${bucketName(NCB, 'snapshots')}.M.x`, '$SYS.REQ.SERVER.PING', `liaison.v1.operational.documents.DocumentReport.${POLICE}.all`, 'liaison.v1.status.ping', `${inboxPrefix(POLICE)}.x`];
    for (const s of forbidden) nc.publish(s, 'x');
    nc.publish('_R_.abc.def', 'x');
    await nc.flush();
    await new Promise((r) => setTimeout(r, 500));
    await nc.close();
    expect(refused.sort()).toEqual([...forbidden].sort());
    expect((await cases.get('probe'))?.string()).toBe('the case registry wrote this');
  });
});
