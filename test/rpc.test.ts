import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { requestHash } from '../services/sdk/client/rpc.ts';
import { openEnvelope } from '../services/sdk/envelope/open.ts';
import { isLiaisonError, LiaisonError } from '../services/sdk/errors.ts';
import { serviceSubject } from '../services/sdk/subjects.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { RawAgency } from './support/violations.ts';

const CHECK = { documentNumber: 'XA4417702', issuingCountry: 'XAA', documentType: 'DOCUMENT_TYPE_PASSPORT', checkLocation: 'Port Xandria, berth 4' };

describe('request/reply services: signed requests, signed replies bound to them, broker-enforced callers', () => {
  let fed: TestFederation;
  let police: LiaisonClient;
  let ncb: LiaisonClient;
  let ncbReplica: LiaisonClient;
  let ngo: LiaisonClient;
  const answeredBy: string[] = [];

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['xa-border-police', 'xc-ncb', 'xa-ngo-harbour'], name: 'rpc' });
    [police, ncb, ncbReplica, ngo] = await Promise.all([fed.connect('xa-border-police'), fed.connect('xc-ncb'), fed.connect('xc-ncb'), fed.connect('xa-ngo-harbour')]);
    for (const [replica, label] of [
      [ncb, 'a'],
      [ncbReplica, 'b'],
    ] as const) {
      await replica.serve({
        DocumentCheckRequest: async (req) => {
          answeredBy.push(label);
          if (req.body.documentNumber === 'SLOW') await new Promise((r) => setTimeout(r, 1_500));
          if (req.body.documentNumber === 'REFUSE') throw new LiaisonError('ERR_BODY_INVALID', 'document number REFUSE is not acceptable');
          return { type: 'DocumentCheckResult', body: { requestId: req.header.id, outcome: 'CHECK_OUTCOME_HIT', status: 'DOCUMENT_STATUS_STOLEN', recordOwnerCountry: 'XAA' } };
        },
      });
    }
  });
  afterAll(async () => {
    await fed?.stop();
  });

  it('a permitted caller gets a verified reply from the serving agency, carrying the hash of its request', async () => {
    const reply = await police.request('DocumentCheckRequest', CHECK, { caseRef: 'CASE-9' });
    expect(reply.type).toBe('DocumentCheckResult');
    expect(reply.header.sender).toBe('xc-ncb');
    expect(reply.header.recipient).toBe('xa-border-police');
    expect(reply.header.requestHash).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(reply.header.caseRef).toBe('CASE-9');
    expect(reply.body.outcome).toBe('CHECK_OUTCOME_HIT');
    expect(reply.header.causationId).toBe(reply.body.requestId);
  });

  it('replicas in the queue group share the requests, and every reply verifies', async () => {
    answeredBy.length = 0;
    const replies = await Promise.all(Array.from({ length: 40 }, () => police.request('DocumentCheckRequest', CHECK)));
    expect(replies.every((r) => r.header.sender === 'xc-ncb')).toBe(true);
    expect(answeredBy).toHaveLength(40);
    expect(new Set(answeredBy)).toEqual(new Set(['a', 'b']));
  });

  it('a reply is refused unless it carries the hash of exactly this request', async () => {
    const sealedReq = police.seal('DocumentCheckRequest', CHECK, { to: 'xc-ncb' }).copies[0]!;
    const reply = ncb.seal('DocumentCheckResult', { outcome: 'CHECK_OUTCOME_NO_HIT' }, { to: 'xa-border-police', requestHash: requestHash(new Uint8Array([1, 2, 3])) }).copies[0]!;
    try {
      openEnvelope(police.openContext(), { subject: '_INBOX_xa-border-police.x', data: reply.data }, { route: 'reply', from: 'xc-ncb', requestHash: requestHash(sealedReq.data) });
      throw new Error('accepted');
    } catch (err) {
      expect(isLiaisonError(err, 'ERR_HEADER_MISMATCH'), String(err)).toBe(true);
    }
  });

  it("a handler's typed refusal reaches the caller with its code", async () => {
    await expect(police.request('DocumentCheckRequest', { ...CHECK, documentNumber: 'REFUSE' })).rejects.toSatisfy(
      (e: unknown) => isLiaisonError(e, 'ERR_BODY_INVALID') && (e as Error).message.includes('REFUSE'),
    );
  });

  it('a role that may not check is refused by its SDK, and by the broker when it bypasses the SDK', async () => {
    await expect(ngo.request('DocumentCheckRequest', CHECK)).rejects.toSatisfy((e: unknown) => isLiaisonError(e, 'ERR_POLICY_SEND_DENIED'));
    const raw = await RawAgency.connect(fed.server.url, fed.agencyDirs['xa-ngo-harbour']!, 'xa-ngo-harbour');
    const subject = serviceSubject('documents', 'DocumentCheckRequest', 'xa-ngo-harbour');
    await raw.nc.request(subject, 'x', { timeout: 1_000 }).catch(() => undefined);
    expect(await raw.refused(subject)).toBe(true);
    await raw.close();
  });

  it('a service that does not answer in time is ERR_TIMEOUT naming the wait and what to check', async () => {
    const err = await police.request('DocumentCheckRequest', { ...CHECK, documentNumber: 'SLOW' }, { timeoutMs: 500 }).catch((e: unknown) => e);
    expect(isLiaisonError(err, 'ERR_TIMEOUT')).toBe(true);
    expect((err as Error).message).toBe('xc-ncb did not answer DocumentCheckRequest within 0.5 s: check that its service is running and keeping up (`liaison exchange status --dir TRUST_DIR`, its logs), or allow more time');
  });

  it('an agency that does not serve the type can neither register nor listen as the service', async () => {
    await expect(police.serve({ DocumentCheckRequest: () => ({ type: 'DocumentCheckResult', body: {} }) })).rejects.toSatisfy((e: unknown) =>
      isLiaisonError(e, 'ERR_POLICY_RECEIVE_DENIED'),
    );
    const raw = await RawAgency.connect(fed.server.url, fed.agencyDirs['xa-border-police']!, 'xa-border-police');
    const subject = serviceSubject('documents', 'DocumentCheckRequest', '*');
    raw.nc.subscribe(subject, { queue: 'liaison-xc-ncb' });
    expect(await raw.refused(subject)).toBe(true);
    await raw.close();
  });
});
