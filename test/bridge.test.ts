import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSignedAgreement } from '../services/bridge/agreement/file.ts';
import { jetstreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBridge } from '../services/bridge/bridge.ts';
import { bridgeInbox } from '../services/bridge/compile.ts';
import { bridgePaths } from '../services/bridge/paths.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { Rejection } from '../services/sdk/client/consume.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { messageSubject, streamName } from '../services/sdk/subjects.ts';
import { runCli } from '../services/cli/main.ts';
import { agreementText, applyOn, bridgeUp, caOf, connectAcross, connectBridged, POLICE_ATL_TO_MED, POLICE_MED_TO_ATL, signedByBoth } from './support/bridge.ts';
import { stopBridged } from './support/bridged-federations.ts';
import { createTwoFederations, type TwoFederations } from './support/two-federations.ts';
import { sealAdmittingAnything } from './support/cross-seal.ts';
import { RawAgency } from './support/violations.ts';
import { until } from './support/workflows.ts';

/**
 * Two federations, med and atl (own roots, own nats-servers, both on the example policy), bridged under an agreement
 * signed by both roots (issue 17): med's xa-border-police ⇄ atl's xb-police, IntelligenceReport, up to personal.
 */
const ID = 'med-atl';
const TYPE = 'IntelligenceReport';
const FLOWS = [
  POLICE_MED_TO_ATL,
  POLICE_ATL_TO_MED,
  // enrolled in med only once the bridge runs (the peer's directory then catches up at atl)
  { from: 'med:xa-coast-guard', to: 'atl:xb-police', types: [TYPE], tier: 'personal' },
];

let feds: TwoFederations;
let bridge: RunningBridge | undefined;
let medPolice: LiaisonClient;
let atlPolice: LiaisonClient;
const atlGot: ReceivedMessage[] = [];
const atlRejected: Rejection[] = [];
const medGot: ReceivedMessage[] = [];
let family: string;

beforeAll(async () => {
  feds = await createTwoFederations({ med: ['xa-border-police', 'xb-police'], atl: ['xb-police', 'xa-border-police'] });
  family = feds.med.catalog.get(TYPE).family;
  const doc = await signedByBoth(feds, await agreementText(feds, ID, FLOWS));
  await applyOn(feds.med, doc);
  // atl's side through the CLI, from the signed file, as an operator would.
  const signedFile = join(feds.atl.trustDir, '..', 'med-atl.yaml.signed.json');
  await writeSignedAgreement(signedFile, doc);
  const out: string[] = [];
  const code = await runCli(['bridge', 'apply', '--trust', feds.atl.trustDir, '--agreement', signedFile, '--server', feds.atl.server.url], { out: (l) => out.push(l), err: (l) => out.push(l), interrupted: new Promise(() => undefined) });
  if (code !== 0) throw new Error(`bridge apply failed: ${out.join('\n')}`);
  bridge = await bridgeUp(feds, ID);
  ({ med: medPolice, atl: atlPolice } = await connectAcross(feds, 'xa-border-police', 'xb-police'));
  await atlPolice.consume((m) => void atlGot.push(m), { types: [TYPE], onReject: (r) => void atlRejected.push(r) });
  await medPolice.consume((m) => void medGot.push(m), { types: [TYPE] });
}, 120_000);

afterAll(() => stopBridged(bridge, feds), 60_000);

describe('bridge between two federations', () => {
  it('delivers med → atl verified, with the original signature bytes and med’s kid; the handler sees med:xa-border-police', async () => {
    const sealed = medPolice.seal(TYPE, { summary: 'crossing the bridge' }, { to: 'atl:xb-police' });
    expect(sealed.copies.map((c) => c.tier)).toEqual(['personal']);
    await medPolice.publishSealed(sealed);
    await until(() => atlGot.some((m) => m.header.id === sealed.id), 15_000, 'the bridged copy');
    const got = atlGot.find((m) => m.header.id === sealed.id)!;
    expect(got.header.sender).toBe('med:xa-border-police');
    expect(got.header.recipient).toBe('xb-police');
    expect(got.kid).toBe(medPolice.identity.key.kid);
    expect(got.subject).toBe(messageSubject({ tier: 'personal', family, type: TYPE, sender: 'med:xa-border-police', recipient: 'xb-police' }));
    // The very bytes med's agency signed are what atl's stream holds.
    const jsm = await jetstreamManager(feds.atl.exchange.admin);
    const stored = await jsm.streams.getMessage(streamName(family), { last_by_subj: got.subject });
    expect(Buffer.from(stored!.data).equals(Buffer.from(sealed.copies[0]!.data))).toBe(true);
  }, 30_000);

  it('delivers atl → med the same way (both directions in one bridge process)', async () => {
    const r = await atlPolice.send(TYPE, { summary: 'and back' }, { to: 'med:xa-border-police' });
    await until(() => medGot.some((m) => m.header.id === r.id), 15_000, 'the copy from atl');
    expect(medGot.find((m) => m.header.id === r.id)!.header.sender).toBe('atl:xb-police');
  }, 30_000);

  it('a copy from a peer agency enrolled after the bridge started is handled once the peer directory catches up, not quarantined', async () => {
    await feds.med.enrol('xa-coast-guard');
    const coast = await connectBridged(feds.med, 'xa-coast-guard');
    const r = await coast.send(TYPE, { summary: 'new on the bridge' }, { to: 'atl:xb-police' });
    await until(() => atlGot.some((m) => m.header.id === r.id) || atlRejected.some((x) => x.claimedSender === 'med:xa-coast-guard'), 20_000, 'the copy of the newly enrolled agency');
    expect(atlRejected.filter((x) => x.claimedSender === 'med:xa-coast-guard').map((x) => x.code)).toEqual([]);
    expect(atlGot.find((m) => m.header.id === r.id)?.header.sender).toBe('med:xa-coast-guard');
  }, 30_000);

  it('a pair not in the agreement never leaves: the SDK refuses it (typed); a raw copy stays home; a type the sender may not send is refused by its broker', async () => {
    // Pairs, not roles: atl's xa-border-police is no party to the flow, though it receives the type at home.
    let err: unknown;
    try {
      medPolice.seal(TYPE, { summary: 'not agreed' }, { to: 'atl:xa-border-police' });
    } catch (e) {
      err = e;
    }
    expect(isLiaisonError(err, 'ERR_POLICY_SEND_DENIED'), String(err)).toBe(true);
    // A raw client publishing such a copy itself: med's broker stores it (xa-border-police may send the type, and its
    // '*' recipient token matches any token), but no export consumer reads it, so it never reaches atl.
    const sealed = medPolice.seal(TYPE, { summary: 'not agreed' }, { to: 'xb-police' });
    const raw = await RawAgency.connect(feds.med.server.url, feds.med.agencyDirs['xa-border-police']!, 'xa-border-police');
    try {
      const copy = sealed.copies[0]!;
      const across = messageSubject({ tier: copy.tier, family, type: TYPE, sender: 'xa-border-police', recipient: 'atl:xa-border-police' });
      const h = natsHeaders();
      for (const [k, v] of Object.entries(copy.headers)) h.set(k, v);
      await raw.nc.request(across, copy.data, { headers: h, timeout: 5_000 });
      // A type xa-border-police's roles may not send: refused by med's broker whatever the recipient.
      const refused = messageSubject({ tier: 'personal', family: feds.med.catalog.get('DocumentCheckResult').family, type: 'DocumentCheckResult', sender: 'xa-border-police', recipient: 'atl:xb-police' });
      raw.nc.publish(refused, new Uint8Array([1]));
      expect(await raw.refused(refused)).toBe(true);
      await new Promise((r) => setTimeout(r, 2_000));
      const jsm = await jetstreamManager(feds.atl.exchange.admin);
      const there = messageSubject({ tier: copy.tier, family, type: TYPE, sender: 'med:xa-border-police', recipient: 'xa-border-police' });
      const inAtl = await jsm.streams.getMessage(streamName(family), { last_by_subj: there }).catch(() => null);
      expect(inAtl ?? undefined).toBeUndefined();
      expect(Object.values(bridge!.stats()).reduce((n, st) => n + st.refused, 0)).toBe(0);
    } finally {
      await raw.close();
    }
  }, 30_000);

  it('the import user can publish nothing but the inbound flows and its peer’s directory', async () => {
    const creds = new Uint8Array(await readFile(bridgePaths(feds.atl.trustDir, ID).importCreds));
    const raw = await RawAgency.connectCreds(feds.atl.server.url, creds, await caOf(feds.atl), bridgeInbox(ID, 'import'));
    try {
      const rogue = [
        // another sender token of the peer
        messageSubject({ tier: 'personal', family, type: TYPE, sender: 'med:xb-police', recipient: 'xb-police' }),
        // a local sender token (forging one of atl's own agencies)
        messageSubject({ tier: 'personal', family, type: TYPE, sender: 'xa-border-police', recipient: 'xb-police' }),
        // another recipient
        messageSubject({ tier: 'personal', family, type: TYPE, sender: 'med:xa-border-police', recipient: 'xa-border-police' }),
        // a type no flow names
        messageSubject({ tier: 'operational', family: feds.atl.catalog.get('JointInvestigationProposal').family, type: 'JointInvestigationProposal', sender: 'med:xa-border-police', recipient: 'xb-police' }),
        // a higher tier than the flow's
        messageSubject({ tier: 'special', family, type: TYPE, sender: 'med:xa-border-police', recipient: 'xb-police' }),
        // the JetStream API and the KV of an agency
        `$JS.API.STREAM.PURGE.${streamName(family)}`,
        'LIAISON.API.STREAM.PURGE.' + streamName(family),
        '$KV.xb-police_handled.x',
        // the directory subjects
        'liaison.v1.trust.directory',
        'liaison.v1.trust.foreign.other',
        'liaison.v1.svc.trust.directory.xb-police',
      ];
      for (const s of rogue) raw.nc.publish(s, new Uint8Array([1]));
      for (const s of rogue) expect(await raw.refused(s), s).toBe(true);
      // Its own flow subject is granted (the control: the refusals above are not a dead connection).
      const ok = messageSubject({ tier: 'personal', family, type: TYPE, sender: 'med:xa-border-police', recipient: 'xb-police' });
      raw.nc.publish(ok, new Uint8Array([1]));
      expect(await raw.refused(ok, 500)).toBe(false);
    } finally {
      await raw.close();
    }
  }, 30_000);

  it('the export user can only pull and ack its own export consumers: no other consumer, no JetStream admin, no message subjects', async () => {
    const creds = new Uint8Array(await readFile(bridgePaths(feds.med.trustDir, ID).exportCreds));
    const raw = await RawAgency.connectCreds(feds.med.server.url, creds, await caOf(feds.med), bridgeInbox(ID, 'export'));
    try {
      const stream = streamName(family);
      const rogue = [
        // pulling another agency's consumer (reading its messages)
        `LIAISON.API.CONSUMER.MSG.NEXT.${stream}.xb-police__${TYPE}__direct`,
        `$JS.API.CONSUMER.MSG.NEXT.${stream}.xb-police__${TYPE}__direct`,
        // creating a consumer (2.9 does not check a push consumer's deliver subject), purging, deleting
        `LIAISON.API.CONSUMER.CREATE.${stream}`,
        `LIAISON.API.STREAM.PURGE.${stream}`,
        `LIAISON.API.STREAM.DELETE.${stream}`,
        // publishing any message, as itself or as an agency
        messageSubject({ tier: 'personal', family, type: TYPE, sender: 'xa-border-police', recipient: 'atl:xb-police' }),
        // the foreign directory subject is the import user's, on the other side
        'liaison.v1.trust.foreign.atl',
      ];
      for (const s of rogue) raw.nc.publish(s, new Uint8Array([1]));
      for (const s of rogue) expect(await raw.refused(s), s).toBe(true);
      // Reading message subjects directly: a subscription violation.
      const sub = messageSubject({ tier: 'personal', family, type: TYPE, sender: '*', recipient: 'xb-police' });
      raw.nc.subscribe(sub);
      expect(await raw.refused(sub)).toBe(true);
    } finally {
      await raw.close();
    }
  }, 30_000);

  it('an envelope signed by a peer agency not in the flow, put on a flow subject by the import user, is quarantined by the receiver', async () => {
    // med's xb-police (no party to any flow) signs a copy for atl:xb-police itself — its SDK would refuse, so it seals
    // with a cross context admitting anything — and the (compromised) bridge puts it on xa-border-police's flow subject.
    const medOther = await connectBridged(feds.med, 'xb-police');
    const sealed = await sealAdmittingAnything(feds, ID, medOther, TYPE, { summary: 'smuggled across' }, 'atl:xb-police');
    const copy = sealed.copies[0]!;
    const creds = new Uint8Array(await readFile(bridgePaths(feds.atl.trustDir, ID).importCreds));
    const raw = await RawAgency.connectCreds(feds.atl.server.url, creds, await caOf(feds.atl), bridgeInbox(ID, 'import'));
    try {
      const h = natsHeaders();
      for (const [k, v] of Object.entries(copy.headers)) h.set(k, v);
      const subject = messageSubject({ tier: copy.tier, family, type: TYPE, sender: 'med:xa-border-police', recipient: 'xb-police' });
      await raw.nc.request(subject, copy.data, { headers: h, timeout: 5_000 });
      await until(() => atlRejected.some((r) => r.subject === subject && r.code === 'ERR_SUBJECT_MISMATCH'), 15_000, 'the rejection');
      expect(atlGot.some((m) => m.header.id === sealed.id)).toBe(false);
    } finally {
      await raw.close();
    }
  }, 30_000);

  it('a reprovision of the exchange (policy apply, agency revocation, restart) keeps the export consumers', async () => {
    const report = await feds.med.exchange.reprovision();
    expect(report.removedConsumers.filter((n) => n.startsWith('bridge_'))).toEqual([]);
    const r = await medPolice.send(TYPE, { summary: 'after reprovision' }, { to: 'atl:xb-police' });
    await until(() => atlGot.some((m) => m.header.id === r.id), 15_000, 'the copy after reprovision');
  }, 60_000);

  it('a bridge stopped while 200 messages are sent delivers all after it restarts, in order, none twice', async () => {
    const ids: string[] = [];
    const sending = (async () => {
      for (let i = 0; i < 200; i++) {
        ids.push((await medPolice.send(TYPE, { summary: `backlog ${i}` }, { to: 'atl:xb-police' })).id);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    // Stopped mid-stream: some copies crossed, the window in flight settles, the rest wait in med's export consumer.
    await until(() => atlGot.filter((m) => ids.includes(m.header.id)).length >= 10, 30_000, 'the first copies');
    await bridge!.stop();
    bridge = undefined;
    await new Promise((r) => setTimeout(r, 1_000));
    const crossed = atlGot.filter((m) => ids.includes(m.header.id)).length;
    await sending;
    await new Promise((r) => setTimeout(r, 1_000));
    expect(atlGot.filter((m) => ids.includes(m.header.id)).length).toBe(crossed);
    expect(crossed).toBeLessThan(200);
    bridge = await bridgeUp(feds, ID);
    await until(() => atlGot.filter((m) => ids.includes(m.header.id)).length >= 200, 60_000, 'the backlog');
    await new Promise((r) => setTimeout(r, 1_000));
    const got = atlGot.filter((m) => ids.includes(m.header.id)).map((m) => m.header.id);
    expect(got).toEqual(ids);
  }, 120_000);

  it('bridge revoke stops the flow within 5 s: the bridge users are cut, nothing sent afterwards arrives', async () => {
    const t0 = Date.now();
    // Through the CLI, as an operator would: the running exchange pushes the new directory from its poll.
    const out: string[] = [];
    const code = await runCli(['bridge', 'revoke', '--trust', feds.med.trustDir, '--agreement', ID, '--server', feds.med.server.url], { out: (l) => out.push(l), err: (l) => out.push(l), interrupted: new Promise(() => undefined) });
    expect(code, out.join('\n')).toBe(0);
    expect(out.join('\n')).toMatch(/agreement med-atl revoked: 2 bridge user\(s\) cut/);
    const stats = () => Object.values(bridge!.stats());
    await until(() => stats().every((s) => !s.online), 5_000 - (Date.now() - t0), 'the bridge connections to close');
    expect(Date.now() - t0).toBeLessThan(5_000);
    // med's clients stop sending across once they see the directory without the agreement.
    await until(() => {
      try {
        medPolice.seal(TYPE, { summary: 'after revoke' }, { to: 'atl:xb-police' });
        return false;
      } catch (e) {
        return isLiaisonError(e, 'ERR_POLICY_SEND_DENIED');
      }
    }, 5_000, 'the SDK to refuse');
    // atl did not revoke: its side still sends, but nothing reaches med any more.
    const r = await atlPolice.send(TYPE, { summary: 'after revoke' }, { to: 'med:xa-border-police' });
    await new Promise((res) => setTimeout(res, 3_000));
    expect(medGot.some((m) => m.header.id === r.id)).toBe(false);
  }, 60_000);
});
