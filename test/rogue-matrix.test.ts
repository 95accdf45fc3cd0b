import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';
import { openEnvelope } from '../services/sdk/envelope/open.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { agencyBuckets, compileConsumers, sendableTypes } from '../services/sdk/policy/index.ts';
import { agencyJsApi, bucketName, directoryRequestSubject, inboxPrefix, messageSubject, quarantineServiceSubject, quarantineSubject, replaySubject, retractSubject, streamName } from '../services/sdk/subjects.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { RawAgency } from './support/violations.ts';

/**
 * The attack classes of issue 12 — read, write, delete, purge, spoof, replay, suppress, freeze — tried with raw
 * nats.js and an agency's own valid `.creds` by three attackers: the NGO, a police agency, and an agency that
 * holds state buckets. Each forbidden action must be refused by the broker (a Permissions Violation) or by the
 * receiving SDK, and leave no effect; beside each, a positive control shows the owner may do it.
 */
interface Attacker {
  id: string;
  label: string;
  /** An agency whose messages, consumers and inbox the attacker goes after. */
  victim: string;
  /** Another agency's state bucket, and the agency that owns it. */
  bucket: { owner: string; name: string };
}

const ATTACKERS: Attacker[] = [
  { id: 'xa-ngo-harbour', label: 'the NGO', victim: 'xa-border-police', bucket: { owner: 'mac-cases', name: 'cases' } },
  { id: 'xa-border-police', label: 'a police agency', victim: 'xa-ngo-harbour', bucket: { owner: 'mac-cases', name: 'cases' } },
  { id: 'mac-cases', label: 'an agency holding state buckets', victim: 'mac-centre', bucket: { owner: 'mac-centre', name: 'correlations' } },
];
const AGENCIES = ['xa-ngo-harbour', 'xa-border-police', 'mac-cases', 'mac-centre', 'xc-ncb'];

describe('rogue agencies: every attack class refused for three attackers, each beside its positive control', () => {
  let fed: TestFederation;
  let jsm: JetStreamManager;
  const raw: Record<string, RawAgency> = {};
  const clients: Record<string, LiaisonClient> = {};

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: AGENCIES, name: 'rogue-matrix' });
    jsm = await jetstreamManager(fed.exchange.admin);
    for (const a of AGENCIES) raw[a] = await RawAgency.connect(fed.server.url, fed.agencyDirs[a]!, a);
    for (const a of ['xa-border-police', 'xa-ngo-harbour', 'mac-centre']) clients[a] = await fed.connect(a);
    for (const b of ['cases', 'correlations']) {
      const owner = b === 'cases' ? 'mac-cases' : 'mac-centre';
      await (await new Kvm(fed.exchange.admin).open(bucketName(owner, b))).put('probe', `${owner} wrote this`);
    }
    await clients['xa-border-police']!.send('DocumentReport', { documentNumber: 'XA0000002', issuingCountry: 'XAA', documentType: 'DOCUMENT_TYPE_PASSPORT', status: 'DOCUMENT_STATUS_LOST' }, { to: 'all' });
  }, 60_000);
  afterAll(async () => {
    for (const r of Object.values(raw)) await r.close();
    await fed?.stop();
  });

  const consumerOf = (agency: string) => compileConsumers(fed.exchange.policy, typeCatalogOf(fed.catalog)).find((c) => c.agency === agency)!;
  const probe = async (owner: string, name: string) => (await (await new Kvm(fed.exchange.admin).open(bucketName(owner, name))).get('probe'))?.string();
  const streamSizes = async () => Object.fromEntries(await Promise.all(['documents', 'referrals', 'cooperation'].map(async (f) => [f, (await jsm.streams.info(streamName(f))).state.messages] as const)));

  async function refusedPublish(r: RawAgency, subject: string, data: string | Uint8Array = 'x'): Promise<boolean> {
    r.nc.publish(subject, data);
    return await r.refused(subject);
  }
  async function refusedSubscribe(r: RawAgency, subject: string): Promise<boolean> {
    const s = r.nc.subscribe(subject);
    const refused = await r.refused(subject);
    s.unsubscribe();
    return refused;
  }
  async function allowedPublish(r: RawAgency, subject: string, data: string | Uint8Array = 'x'): Promise<boolean> {
    const before = r.violations.length;
    r.nc.publish(subject, data);
    await r.nc.flush();
    await new Promise((res) => setTimeout(res, 150));
    return r.violations.slice(before).every((v) => v.subject !== subject);
  }

  describe.each(ATTACKERS)('$label ($id)', (atk) => {
    const vb = () => bucketName(atk.bucket.owner, atk.bucket.name);

    it('read: another agency’s directed copies, consumer, inbox and state are refused — the owner reads its own', async () => {
      const a = raw[atk.id]!;
      const vc = consumerOf(atk.victim);
      expect(await refusedSubscribe(a, `liaison.v1.*.*.*.*.${atk.victim}`)).toBe(true);
      expect(await refusedSubscribe(a, `${inboxPrefix(atk.victim)}.>`)).toBe(true);
      for (const api of ['$JS.API', 'LIAISON.API']) {
        expect(await refusedPublish(a, `${api}.CONSUMER.MSG.NEXT.${vc.stream}.${vc.name}`, '{"batch":1}')).toBe(true);
        expect(await refusedPublish(a, `${api}.DIRECT.GET.KV_${vb()}.$KV.${vb()}.probe`)).toBe(true);
      }
      expect(await refusedSubscribe(a, `$KV.${vb()}.>`)).toBe(true);
      // Control: the victim reads its own consumer.
      expect(await allowedPublish(raw[atk.victim]!, agencyJsApi(`CONSUMER.INFO.${vc.stream}.${vc.name}`))).toBe(true);
    });

    it('write: another agency’s state bucket refuses the attacker — its owner writes', async () => {
      expect(await refusedPublish(raw[atk.id]!, `$KV.${vb()}.probe`, 'overwritten')).toBe(true);
      expect(await refusedPublish(raw[atk.id]!, agencyJsApi(`$KV.${vb()}.probe`), 'overwritten')).toBe(true);
      expect(await probe(atk.bucket.owner, atk.bucket.name)).toBe(`${atk.bucket.owner} wrote this`);
      expect(await allowedPublish(raw[atk.bucket.owner]!, agencyJsApi(`$KV.${vb()}.control`), 'the owner may')).toBe(true);
    });

    it('delete: messages, streams, buckets and consumers of others refuse the attacker — the owner deletes its own keys', async () => {
      const a = raw[atk.id]!;
      const vc = consumerOf(atk.victim);
      const before = await streamSizes();
      expect(await refusedPublish(a, `$JS.API.STREAM.MSG.DELETE.${streamName('documents')}`, '{"seq":1}')).toBe(true);
      expect(await refusedPublish(a, `$JS.API.STREAM.DELETE.KV_${vb()}`)).toBe(true);
      expect(await refusedPublish(a, `$JS.API.CONSUMER.DELETE.${vc.stream}.${vc.name}`)).toBe(true);
      expect(await streamSizes()).toEqual(before);
      expect((await jsm.consumers.info(vc.stream, vc.name)).name).toBe(vc.name);
      const del = natsHeaders();
      del.set('KV-Operation', 'DEL');
      const owner = raw[atk.bucket.owner]!;
      const n = owner.violations.length;
      owner.nc.publish(agencyJsApi(`$KV.${vb()}.control`), '', { headers: del });
      await owner.nc.flush();
      await new Promise((res) => setTimeout(res, 150));
      expect(owner.violations.length).toBe(n);
    });

    it('purge: family streams and others’ buckets refuse the attacker — an object store’s owner purges its own', async () => {
      const before = await streamSizes();
      expect(await refusedPublish(raw[atk.id]!, `$JS.API.STREAM.PURGE.${streamName('documents')}`, '{}')).toBe(true);
      expect(await refusedPublish(raw[atk.id]!, `$JS.API.STREAM.PURGE.KV_${vb()}`, '{}')).toBe(true);
      expect(await refusedPublish(raw[atk.id]!, agencyJsApi(`STREAM.PURGE.${streamName('documents')}`), '{}')).toBe(true);
      expect(await streamSizes()).toEqual(before);
      expect(await probe(atk.bucket.owner, atk.bucket.name)).toBe(`${atk.bucket.owner} wrote this`);
      const objects = agencyBuckets(fed.exchange.policy, 'xc-ncb').find((b) => b.kind === 'objects')!;
      expect(await allowedPublish(raw['xc-ncb']!, agencyJsApi(`STREAM.PURGE.OBJ_${objects.bucket}`), '{"filter":"$O.nothing"}')).toBe(true);
    });

    it('spoof: another agency’s sender token, quarantine and service subjects are refused — its own are allowed', async () => {
      const a = raw[atk.id]!;
      const type = sendableTypes(fed.exchange.policy, atk.id).find((t) => t !== 'Retraction' && t !== 'RetractionReceipt')!;
      const family = typeCatalogOf(fed.catalog).familyOf(type)!;
      const spoofed = messageSubject({ tier: 'operational', family, type, sender: atk.victim, recipient: 'all' });
      expect(await refusedPublish(a, spoofed)).toBe(true);
      expect(await refusedPublish(a, quarantineSubject(atk.victim))).toBe(true);
      for (const s of [directoryRequestSubject(atk.victim), replaySubject(atk.victim), retractSubject(atk.victim), quarantineServiceSubject(atk.victim)]) expect(await refusedPublish(a, s), s).toBe(true);
      expect(await allowedPublish(a, quarantineSubject(atk.id))).toBe(true);
    });

    it('replay: a genuine envelope of another agency, re-published under the attacker’s own token, is refused by the receiving SDK', async () => {
      // A genuine, signed copy by an agency other than the attacker (the NGO's referral when the attacker is the police).
      const [senderId, type, body, to] =
        atk.id === 'xa-border-police'
          ? (['xa-ngo-harbour', 'CaseReferral', { kind: 'REFERRAL_KIND_PROTECTION', summary: 'genuine', consentRecorded: true }, 'xa-border-police'] as const)
          : (['xa-border-police', 'DocumentReport', { documentNumber: 'XA0000003', issuingCountry: 'XAA', documentType: 'DOCUMENT_TYPE_PASSPORT', status: 'DOCUMENT_STATUS_STOLEN' }, 'all'] as const);
      const copy = clients[senderId]!.seal(type, body, { to }).copies[0]!;
      const asAttacker = copy.subject.replace(`.${senderId}.`, `.${atk.id}.`);
      expect(asAttacker).not.toBe(copy.subject);
      const receiver = to === 'all' ? clients['mac-centre']! : clients[to]!;
      let err: unknown;
      try {
        openEnvelope(receiver.openContext(), { subject: asAttacker, data: copy.data }, { route: 'message' });
      } catch (e) {
        err = e;
      }
      expect(isLiaisonError(err, 'ERR_SUBJECT_MISMATCH')).toBe(true);
      // Control: on its sender's own subject the same bytes open.
      expect(openEnvelope(receiver.openContext(), { subject: copy.subject, data: copy.data }, { route: 'message' }).header.sender).toBe(senderId);
    });

    it('suppress: acknowledging or deleting another agency’s copies is refused — the victim acknowledges its own', async () => {
      const a = raw[atk.id]!;
      const vc = consumerOf(atk.victim);
      expect(await refusedPublish(a, `$JS.ACK.${vc.stream}.${vc.name}.1.1.1.1.0`, '+ACK')).toBe(true);
      expect(await refusedPublish(a, `$JS.API.CONSUMER.DELETE.${vc.stream}.${vc.name}`)).toBe(true);
      expect(await allowedPublish(raw[atk.victim]!, agencyJsApi(`CONSUMER.INFO.${vc.stream}.${vc.name}`))).toBe(true);
    });

    it('freeze: status pings, directory pushes and push consumers on its own buckets are refused — connected SDKs keep sending', async () => {
      const a = raw[atk.id]!;
      expect(await refusedPublish(a, 'liaison.v1.status.ping', JSON.stringify({ issuedAt: '2099-01-01T00:00:00Z' }))).toBe(true);
      expect(await refusedPublish(a, 'liaison.v1.trust.directory', 'forged')).toBe(true);
      for (const b of agencyBuckets(fed.exchange.policy, atk.id)) {
        const stream = `${b.kind === 'kv' ? 'KV' : 'OBJ'}_${b.bucket}`;
        const push = JSON.stringify({ stream_name: stream, config: { deliver_subject: 'liaison.v1.status.ping', ack_policy: 'none' } });
        for (const api of ['$JS.API', 'LIAISON.API']) expect(await refusedPublish(a, `${api}.CONSUMER.CREATE.${stream}`, push), stream).toBe(true);
      }
      await new Promise((res) => setTimeout(res, 300));
      const police = clients['xa-border-police']!;
      expect(police.seal('DocumentReport', { documentNumber: 'XA0000004', issuingCountry: 'XAA', documentType: 'DOCUMENT_TYPE_PASSPORT', status: 'DOCUMENT_STATUS_LOST' }, { to: 'all' }).copies.length).toBeGreaterThan(0);
    });
  });
});
