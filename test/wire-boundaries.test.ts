import { headers as natsHeaders } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { Rejection } from '../services/sdk/client/consume.ts';
import { ceSource } from '../services/sdk/envelope/nats-headers.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';

/**
 * Two checks of the receive pipeline on the real path, real nats-server and real SDK clients (issue
 * 12, finding 7): a serving agency refuses a request whose SIGNED recipient is another agency (it
 * reached the service subject all the same), and a consuming agency refuses a copy whose CloudEvents
 * `ce-source` names another agency than the signed sender.
 */

const POLICY = `
version: 1
name: wire-boundaries
roles:
  police:
    send: [DocumentReport, DocumentCheckRequest]
    receive:
      - types: [DocumentCheckResult]
        tier: personal
        scope: direct
  bureau:
    send: [DocumentCheckResult]
    receive:
      - types: [DocumentReport]
        tier: personal
        scope: any
      # (A serving role may not also observe its type, so the receive policy refuses a check directed to
      # another agency too, later in the pipeline: the signed-recipient check must refuse it first.)
      - types: [DocumentCheckRequest]
        tier: personal
        scope: direct
    serve: [DocumentCheckRequest]
  archive:
    receive:
      - types: [DocumentCheckRequest]
        tier: personal
        scope: direct
agencies:
  xa-border-police: { name: Xandria Border Police, country: XAA, roles: [police] }
  xc-ncb: { name: Corvenia National Central Bureau, country: XCC, roles: [bureau] }
  xd-archive: { name: Dellmark Records Archive, country: XDD, roles: [archive] }
`;

const CHECK = { documentNumber: 'XA4417702', issuingCountry: 'XAA', documentType: 'DOCUMENT_TYPE_PASSPORT', checkLocation: 'Port Xandria, berth 4' };
const REPORT = { documentNumber: 'XA4417702', issuingCountry: 'XAA', documentType: 'DOCUMENT_TYPE_PASSPORT', status: 'DOCUMENT_STATUS_STOLEN' };

async function until(pred: () => boolean, ms = 5_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return pred();
}

describe('wire boundaries: signed recipient of a service request, ce-source of a copy', () => {
  let fed: TestFederation;
  let police: LiaisonClient;
  let ncb: LiaisonClient;
  const handled: string[] = [];

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['xa-border-police', 'xc-ncb', 'xd-archive'], policyText: POLICY, name: 'wire-boundaries' });
    [police, ncb] = await Promise.all([fed.connect('xa-border-police'), fed.connect('xc-ncb')]);
    await ncb.serve({
      DocumentCheckRequest: (req) => {
        handled.push(`${req.header.sender}→${req.header.recipient}`);
        return { type: 'DocumentCheckResult', body: { requestId: req.header.id, outcome: 'CHECK_OUTCOME_NO_HIT' } };
      },
    });
  });
  afterAll(async () => {
    await fed?.stop();
  });

  it('positive control: a request signed to the serving agency is handled and answered by it', async () => {
    const reply = await police.request('DocumentCheckRequest', CHECK);
    expect(reply.header.sender).toBe('xc-ncb');
    expect(handled).toEqual(['xa-border-police→xc-ncb']);
  });

  it('a request signed to another agency (xd-archive) but delivered to the serving agency is refused by its signed recipient, before its handler', async () => {
    handled.length = 0;
    const err = await police.request('DocumentCheckRequest', CHECK, { to: 'xd-archive', timeoutMs: 3_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isLiaisonError(err, 'ERR_SUBJECT_MISMATCH'), String(err)).toBe(true);
    expect((err as Error).message).toContain('recipient');
    expect(handled).toEqual([]);
    // The service still answers its own requests afterwards.
    await police.request('DocumentCheckRequest', CHECK);
    expect(handled).toEqual(['xa-border-police→xc-ncb']);
  });

  it('a copy whose ce-source names another agency is rejected (ERR_HEADER_MISMATCH); the genuine copy after it is handled', async () => {
    const got: ReceivedMessage[] = [];
    const rejected: Rejection[] = [];
    await ncb.consume((m) => void got.push(m), { types: ['DocumentReport'], onReject: (r) => void rejected.push(r) });
    const publish = async (over: Record<string, string>) => {
      const copy = police.seal('DocumentReport', REPORT, { to: 'xc-ncb' }).copies[0]!;
      const h = natsHeaders();
      for (const [k, v] of Object.entries({ ...copy.headers, ...over })) h.set(k, v);
      police.nc.publish(copy.subject, copy.data, { headers: h });
      await police.nc.flush();
      return copy;
    };
    const forged = await publish({ 'ce-source': ceSource('xd-archive') });
    const genuine = await publish({});
    expect(await until(() => got.length >= 1)).toBe(true);
    expect(got.map((m) => m.header.id)).toEqual([genuine.headers['ce-id']]);
    expect(got.map((m) => m.header.id)).not.toContain(forged.headers['ce-id']);
    expect(rejected.map((r) => r.code)).toEqual(['ERR_HEADER_MISMATCH']);
    expect(rejected[0]!.reason).toContain('ce-source');
  });
});
