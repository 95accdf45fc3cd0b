import { readFile } from 'node:fs/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import type { Rejection } from '../services/sdk/client/consume.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { QUARANTINE_STREAM } from '../services/sdk/subjects.ts';
import { applyAccountUpdate, revokeAgency, rotateSigningKey, trustPaths } from '../services/trust/index.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { RawAgency } from './support/violations.ts';

const REPORT = {
  documentNumber: 'XA4417702',
  issuingCountry: 'XAA',
  documentType: 'DOCUMENT_TYPE_PASSPORT',
  status: 'DOCUMENT_STATUS_FRAUDULENT',
  holderName: 'Amir Haddad',
};

const REFERRAL = {
  kind: 'REFERRAL_KIND_PROTECTION',
  summary: 'Woman travelling with a child, injured during the crossing; requests protection.',
  consentRecorded: true,
  criminalIntelligence: 'Identified the boat organiser from photographs.',
};

/** Collects what an agency's consumers deliver and reject. */
function inbox(client: LiaisonClient) {
  const got: ReceivedMessage[] = [];
  const rejected: Rejection[] = [];
  const ready = client.consume((m) => void got.push(m), { onReject: (r) => void rejected.push(r) });
  const until = async (pred: () => boolean, ms = 5_000) => {
    const end = Date.now() + ms;
    while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return pred();
  };
  return { got, rejected, ready, until };
}

describe('exchange core: signed, projected messages between agencies over a real nats-server', () => {
  let fed: TestFederation;
  let police: LiaisonClient;
  let centre: LiaisonClient;
  let ngo: LiaisonClient;
  let xbPolice: LiaisonClient;
  let prosecutor: LiaisonClient;
  let centreBox: ReturnType<typeof inbox>;
  let ngoBox: ReturnType<typeof inbox>;
  let xbBox: ReturnType<typeof inbox>;
  let prosecutorBox: ReturnType<typeof inbox>;

  beforeAll(async () => {
    fed = await createTestFederation({
      agencies: ['xa-border-police', 'mac-centre', 'xa-ngo-harbour', 'xb-police', 'xa-prosecutor', 'xa-coast-guard'],
      name: 'exchange',
    });
    [police, centre, ngo, xbPolice, prosecutor] = await Promise.all(
      ['xa-border-police', 'mac-centre', 'xa-ngo-harbour', 'xb-police', 'xa-prosecutor'].map((a) => fed.connect(a)),
    ) as [LiaisonClient, LiaisonClient, LiaisonClient, LiaisonClient, LiaisonClient];
    centreBox = inbox(centre);
    ngoBox = inbox(ngo);
    xbBox = inbox(xbPolice);
    prosecutorBox = inbox(prosecutor);
    await Promise.all([centreBox.ready, ngoBox.ready, xbBox.ready, prosecutorBox.ready]);
  });
  afterAll(async () => {
    await fed?.stop();
  });

  it('a broadcast reaches each permitted agency at its own tier, with fields above the tier absent', async () => {
    const r = await police.send('DocumentReport', REPORT, { caseRef: 'CASE-1' });
    expect(r.copies.map((c) => c.tier).sort()).toEqual(['operational', 'personal']);
    expect(await centreBox.until(() => centreBox.got.some((m) => m.header.id === r.id))).toBe(true);
    expect(await xbBox.until(() => xbBox.got.some((m) => m.header.id === r.id))).toBe(true);
    const atCentre = centreBox.got.find((m) => m.header.id === r.id)!;
    const atXb = xbBox.got.find((m) => m.header.id === r.id)!;
    expect(atCentre.header.tier).toBe('operational');
    expect(atCentre.body.documentNumber).toBe(REPORT.documentNumber);
    expect(atCentre.body.holderName).toBeUndefined();
    expect(atXb.header.tier).toBe('personal');
    expect(atXb.body.holderName).toBe(REPORT.holderName);
    expect(atXb.header.sender).toBe('xa-border-police');
    expect(atXb.header.caseRef).toBe('CASE-1');
    expect(ngoBox.got.some((m) => m.header.id === r.id)).toBe(false);
  });

  it('a directed referral reaches only its recipient, at its tier, with no special-tier field', async () => {
    const r = await police.send('CaseReferral', REFERRAL, { to: 'xa-ngo-harbour', tlp: 'AMBER' });
    expect(r.copies).toHaveLength(1);
    expect(await ngoBox.until(() => ngoBox.got.some((m) => m.header.id === r.id))).toBe(true);
    const copy = ngoBox.got.find((m) => m.header.id === r.id)!;
    expect(copy.header.tier).toBe('personal');
    expect(copy.body.summary).toBe(REFERRAL.summary);
    expect(copy.body.criminalIntelligence).toBeUndefined();
    await new Promise((res) => setTimeout(res, 200));
    expect(prosecutorBox.got.some((m) => m.header.id === r.id)).toBe(false);
    expect(centreBox.got.some((m) => m.header.id === r.id)).toBe(false);
  });

  it('a replayed id is stored once by JetStream and processed once by the receiver', async () => {
    const sealed = police.seal('DocumentReport', REPORT);
    const first = await police.publishSealed(sealed);
    const again = await police.publishSealed(sealed);
    expect(first.copies.every((c) => !c.duplicate)).toBe(true);
    expect(again.copies.every((c) => c.duplicate)).toBe(true);
    // A raw re-publish of the same bytes without the de-duplication header gets past JetStream…
    expect(await centreBox.until(() => centreBox.got.some((m) => m.header.id === sealed.id))).toBe(true);
    const dupBefore = centre.stats.duplicates;
    const raw = await RawAgency.connect(fed.server.url, fed.agencyDirs['xa-border-police']!, 'xa-border-police');
    const copy = sealed.copies.find((c) => c.tier === 'operational')!;
    raw.nc.publish(copy.subject, copy.data);
    await raw.nc.flush();
    await raw.close();
    // …and the receiver still processes the id once.
    expect(await centreBox.until(() => centre.stats.duplicates > dupBefore)).toBe(true);
    expect(centreBox.got.filter((m) => m.header.id === sealed.id)).toHaveLength(1);
  });

  it('a copy whose subject disagrees with its signed header is rejected, quarantined, and the consumer keeps running', async () => {
    const sealed = police.seal('DocumentReport', REPORT);
    const op = sealed.copies.find((c) => c.tier === 'operational')!;
    const raw = await RawAgency.connect(fed.server.url, fed.agencyDirs['xa-border-police']!, 'xa-border-police');
    // The sender may publish on its own subjects: put the operational copy on the personal subject.
    raw.nc.publish(op.subject.replace('.operational.', '.personal.'), op.data);
    await raw.nc.flush();
    await raw.close();
    expect(await xbBox.until(() => xbBox.rejected.some((x) => x.code === 'ERR_SUBJECT_MISMATCH'))).toBe(true);
    const jsm = await jetstreamManager(fed.exchange.admin);
    const last = await jsm.streams.getMessage(QUARANTINE_STREAM, { last_by_subj: 'liaison.v1.quarantine.xb-police' });
    expect(last?.header?.get('liaison-reject-code')).toBe('ERR_SUBJECT_MISMATCH');
    const after = await police.send('DocumentReport', REPORT);
    expect(await xbBox.until(() => xbBox.got.some((m) => m.header.id === after.id))).toBe(true);
  });

  it('a publish the broker refuses fails the call that made it (ERR_PERMISSION_DENIED), saying why by the policy; the client goes on', async () => {
    const refusal = async (edit: (subject: string) => string): Promise<unknown> => {
      const sealed = police.seal('DocumentReport', REPORT);
      const moved = { ...sealed, copies: sealed.copies.map((c) => ({ ...c, subject: edit(c.subject) })) };
      return await police.publishSealed(moved).then(
        () => undefined,
        (e: unknown) => e,
      );
    };
    // As another agency: the subject names xb-police as the sender.
    const asOther = await refusal((s) => s.replace('.xa-border-police.', '.xb-police.'));
    expect(isLiaisonError(asOther) && asOther.code).toBe('ERR_PERMISSION_DENIED');
    expect((asOther as Error).message).toMatch(/Permissions Violation\): the subject names xb-police as its sender: an agency may publish only as itself/);
    // A type no rule lets it send (the SDK's own check was bypassed): the policy's reason is given.
    const family = fed.catalog.get('TrainingOffer').family;
    const notAllowed = await refusal((s) => s.replace('.documents.DocumentReport.', `.${family}.TrainingOffer.`));
    expect(isLiaisonError(notAllowed) && notAllowed.code).toBe('ERR_PERMISSION_DENIED');
    expect((notAllowed as Error).message).toContain("no rule allows it: no rule matched: no send list of xa-border-police's roles (border-police) names TrainingOffer");
    // The connection survives the violations.
    const after = await police.send('DocumentReport', REPORT);
    expect(await xbBox.until(() => xbBox.got.some((m) => m.header.id === after.id))).toBe(true);
  });

  it('a corrupted copy (one flipped bit) is rejected with ERR_SIGNATURE_INVALID', async () => {
    const sealed = police.seal('DocumentReport', REPORT);
    // The envelope ends with the 64-byte signature: flip a bit inside it.
    for (const c of sealed.copies) c.data[c.data.length - 10]! ^= 0x04;
    await police.publishSealed(sealed);
    expect(await centreBox.until(() => centreBox.rejected.some((x) => x.code === 'ERR_SIGNATURE_INVALID'))).toBe(true);
    expect(centreBox.got.some((m) => m.header.id === sealed.id)).toBe(false);
  });

  it('a message larger than the server max payload is refused before sending, nothing truncated', async () => {
    const big = { ...REPORT, remarks: 'x'.repeat(1_100_000) };
    await expect(police.send('DocumentReport', big)).rejects.toSatisfy((e: unknown) => isLiaisonError(e, 'ERR_MESSAGE_TOO_LARGE'));
  });

  it('a pushed directory that does not verify against the root is ignored by connected agencies', async () => {
    const before = centre.openContext().policy.hash;
    const jws = (await readFile(trustPaths(fed.trustDir).directory, 'utf8')).trim();
    const [h, p, sig] = jws.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString()) as { issuedAt: string; policy: string };
    payload.issuedAt = new Date(Date.now() + 60_000).toISOString();
    payload.policy = payload.policy.replace('tier: operational', 'tier: special');
    const forged = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${sig}`;
    fed.exchange.admin.publish('liaison.v1.trust.directory', forged);
    await fed.exchange.admin.flush();
    await new Promise((r) => setTimeout(r, 300));
    expect(centre.openContext().policy.hash).toBe(before);
    const r = await police.send('DocumentReport', REPORT);
    expect(await centreBox.until(() => centreBox.got.some((m) => m.header.id === r.id && m.header.tier === 'operational'))).toBe(true);
  });

  it('after key rotation the new key signs and verifies; the agency keeps exchanging', async () => {
    const coastDir = fed.agencyDirs['xa-coast-guard']!;
    const rot = await rotateSigningKey({ dir: fed.trustDir, agencyId: 'xa-coast-guard', out: coastDir });
    await fed.exchange.directory.refresh();
    await new Promise((r) => setTimeout(r, 300));
    const coast = await fed.connect('xa-coast-guard');
    expect(coast.identity.key.kid).toBe(rot.keyId);
    const r = await coast.send('IntelligenceReport', { summary: 'Vessel sighted' }, { to: 'mac-centre' });
    expect(await centreBox.until(() => centreBox.got.some((m) => m.header.id === r.id))).toBe(true);
    expect(centreBox.got.find((m) => m.header.id === r.id)!.kid).toBe(rot.keyId);
  });

  it('revocation: the broker cuts the agency’s session within 5 s of the directory change, receivers reject what it signs after, and it cannot reconnect', async () => {
    let cutAt = 0;
    void (async () => {
      for await (const st of xbPolice.nc.status()) if ((st.type === 'disconnect' || st.type === 'error') && !cutAt) cutAt = Date.now();
    })();
    const revoked = await revokeAgency({ dir: fed.trustDir, agencyId: 'xb-police' });
    // Signed after the revocation, before its SDK heard of it: a copy that reaches receivers by another route.
    const sealed = xbPolice.seal('IntelligenceReport', { summary: 'signed after revocation' }, { to: 'mac-centre' });
    const late = sealed.copies[0]!;
    const t0 = Date.now();
    // The exchange sees the new directory, pushes the agency's account JWT (its users revoked) and the directory.
    await fed.exchange.directory.refresh();
    const end = t0 + 5_000;
    while (!cutAt && !xbPolice.nc.isClosed() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(cutAt > 0 || xbPolice.nc.isClosed()).toBe(true);
    console.info(`[exchange] revoked session cut ${(cutAt || Date.now()) - t0} ms after the directory change`);
    // Receivers enforce the signed revocation list themselves, whatever route a copy took.
    const h = natsHeaders();
    for (const [k, v] of Object.entries(late.headers)) h.set(k, v);
    const issuedAt = (JSON.parse(Buffer.from(revoked.directory.split('.')[1]!, 'base64url').toString('utf8')) as { issuedAt: string }).issuedAt;
    expect(await centreBox.until(() => centre.directoryIssuedAt === issuedAt)).toBe(true);
    fed.exchange.admin.publish(late.subject, late.data, { headers: h });
    const seen = await centreBox.until(() => centreBox.rejected.some((x) => x.code === 'ERR_REVOKED'));
    expect(seen, JSON.stringify(centreBox.rejected.map((x) => x.code))).toBe(true);
    expect(centreBox.got.some((m) => m.header.id === sealed.id)).toBe(false);
    await expect(fed.connect('xb-police', { reconnect: false })).rejects.toSatisfy((e: unknown) => isLiaisonError(e, 'ERR_CONNECT'));
    // Pushing the account JWT again changes nothing: it is already in force.
    await applyAccountUpdate({ url: fed.server.url, trustDir: fed.trustDir, accountJwt: revoked.accountJwt });
    // The exchange deletes a revoked agency's durable consumers: nothing keeps collecting for it.
    const report = await fed.exchange.reprovision();
    expect(report.removedConsumers.some((c) => c.startsWith('xb-police__'))).toBe(true);
    expect(report.consumers.some((c) => c.startsWith('xb-police__'))).toBe(false);
  });
});

describe('exchange core: expired credentials', () => {
  it('an agency whose credential and NATS user have expired cannot connect', async () => {
    const fed = await createTestFederation({ agencies: ['mac-centre'], name: 'expiry' });
    try {
      const dir = await fed.enrolWith('xa-border-police', { ttlSeconds: 5 });
      const before = await fed.connect('xa-border-police');
      await before.close();
      await new Promise((r) => setTimeout(r, 5_500));
      await expect(fed.connect('xa-border-police', { reconnect: false })).rejects.toSatisfy((e: unknown) => isLiaisonError(e, 'ERR_CONNECT'));
      expect(dir).toContain('xa-border-police');
    } finally {
      await fed.stop();
    }
  });
});
