import { chmod, readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenFilePath } from '../services/gateway/tokens.ts';
import { startGateway } from '../services/gateway/server.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { silentLogger } from '../services/sdk/logging.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { call, eventually, openEventStream, startTestGateway, type TestGateway } from './support/gateway.ts';

const POLICE = 'xa-border-police';
const NGO = 'xa-ngo-harbour';

const REFERRAL = {
  kind: 'REFERRAL_KIND_PROTECTION',
  summary: 'Woman travelling with a child, injured during the crossing; requests protection.',
  consentRecorded: true,
};

/** Long-poll the inbox until a message from `sender` with `id` comes (acknowledging nothing); returns it. */
async function pollFor(g: TestGateway, sender: string, id: string, ms = 10_000): Promise<any> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const r = await call(g.url, 'GET', '/v1/messages?wait=1&max=50', { token: g.token });
    expect(r.status).toBe(200);
    const m = r.body.messages.find((x: any) => x.sender === sender && x.id === id);
    if (m) return m;
  }
  throw new Error(`no message ${sender}/${id} within ${ms} ms`);
}

describe('HTTP gateway: agency systems over plain HTTP, the gateway signs, verifies and enforces', () => {
  let fed: TestFederation;
  let police: TestGateway;
  let ngo: TestGateway;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [POLICE, NGO], name: 'gateway' });
    police = await startTestGateway(fed, POLICE);
    // A short lease: a long poll's unacknowledged messages go to the next reader after 1.5 s.
    ngo = await startTestGateway(fed, NGO, { leaseMs: 1_500 });
  }, 60_000);
  afterAll(async () => {
    await police?.stop();
    await ngo?.stop();
    await fed?.stop();
  });

  it('two agencies through two gateways: a referral out over HTTP, in over SSE, acknowledged; the answer back by long poll', async () => {
    const sent = await call(police.url, 'POST', `/v1/messages/CaseReferral?to=${NGO}&tlp=AMBER`, { token: police.token, json: REFERRAL });
    expect(sent.status).toBe(201);
    expect(sent.body.copies.map((c: any) => c.recipients).flat()).toContain(NGO);

    const stream = await openEventStream(ngo.url, ngo.token);
    await stream.until(1);
    const got = stream.events[0];
    expect(got).toMatchObject({ sender: POLICE, id: sent.body.id, type: 'CaseReferral', tier: 'personal', tlp: 'AMBER', delivery: 1 });
    expect(got.body.summary).toBe(REFERRAL.summary);
    expect(got.ack).toBe(`/v1/messages/${POLICE}/${sent.body.id}/ack`);
    // A message is (sender, id): the same id under another sender names nothing held.
    const wrongSender = await call(ngo.url, 'POST', `/v1/messages/xb-police/${sent.body.id}/ack`, { token: ngo.token });
    expect([wrongSender.status, wrongSender.body.code]).toEqual([404, 'ERR_GATEWAY_NOT_FOUND']);
    expect((await call(ngo.url, 'POST', got.ack, { token: ngo.token })).status).toBe(204);
    stream.close();
    // Acknowledged once: a second acknowledgement names nothing held.
    const again = await call(ngo.url, 'POST', got.ack, { token: ngo.token });
    expect(again.status).toBe(404);
    expect(again.body.code).toBe('ERR_GATEWAY_NOT_FOUND');

    const answer = await call(ngo.url, 'POST', `/v1/messages/ReferralAcknowledgement?to=${POLICE}&causationId=${sent.body.id}`, {
      token: ngo.token,
      json: { referralId: sent.body.id, recipientReference: 'HL-2026-17', receivedAt: '2026-11-30T01:00:00Z' },
    });
    expect(answer.status).toBe(201);
    const back = await pollFor(police, NGO, answer.body.id);
    expect(back).toMatchObject({ type: 'ReferralAcknowledgement', causationId: sent.body.id, body: { referralId: sent.body.id, recipientReference: 'HL-2026-17' } });
    expect((await call(police.url, 'POST', back.ack, { token: police.token })).status).toBe(204);

    // Every call is in the agency's log with the message ids it touched.
    const logged = (g: TestGateway, route: string, id: string) => g.lines.some((l) => l.msg === 'gateway call' && l.route === route && (l.msgIds as string[]).some((m) => m.endsWith(id)));
    expect(logged(police, '/v1/messages/:type', sent.body.id)).toBe(true);
    expect(logged(ngo, '/v1/messages/:sender/:id/ack', sent.body.id)).toBe(true);
    expect(logged(police, '/v1/messages', answer.body.id)).toBe(true);
  });

  it('a policy refusal is problem+json carrying the Liaison code and the deciding rule', async () => {
    const r = await call(police.url, 'POST', `/v1/messages/CaseReferral?to=${NGO}&tlp=RED`, { token: police.token, json: REFERRAL });
    expect(r.status).toBe(403);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(r.body).toMatchObject({ type: 'urn:liaison:error:ERR_POLICY_HANDLING_DENIED', status: 403, code: 'ERR_POLICY_HANDLING_DENIED', rule: 'roles.ngo.receive[0]' });
    expect(r.body.detail).toContain('does not admit TLP RED');
    const why = await call(police.url, 'GET', `/v1/policy/why?send=StrategicReport`, { token: police.token });
    expect(why.status).toBe(200);
    expect(why.body).toMatchObject({ allowed: false, code: 'ERR_POLICY_SEND_DENIED' });
  });

  it('bad JSON 400, unknown type 404, invalid body 422, oversize 413, no token 401, wrong scope 403 — and the gateway keeps serving', async () => {
    const t = police.token;
    const badJson = await call(police.url, 'POST', '/v1/messages/CaseReferral', { token: t, raw: '{"kind": ' });
    expect([badJson.status, badJson.body.code]).toEqual([400, 'ERR_GATEWAY_JSON']);
    const unknown = await call(police.url, 'POST', '/v1/messages/NoSuchType', { token: t, json: {} });
    expect([unknown.status, unknown.body.code]).toEqual([404, 'ERR_TYPE_UNKNOWN']);
    const invalid = await call(police.url, 'POST', `/v1/messages/CaseReferral?to=${NGO}`, { token: t, json: { ...REFERRAL, consentRecorded: 'yes' } });
    expect([invalid.status, invalid.body.code, invalid.body.field]).toEqual([422, 'ERR_BODY_INVALID', 'consentRecorded']);
    const huge = await call(police.url, 'POST', `/v1/messages/CaseReferral?to=${NGO}`, { token: t, json: { ...REFERRAL, summary: 'x'.repeat(1_100_000) } });
    expect([huge.status, huge.body.code]).toEqual([413, 'ERR_MESSAGE_TOO_LARGE']);
    const noToken = await call(police.url, 'POST', `/v1/messages/CaseReferral?to=${NGO}`, { json: REFERRAL });
    expect([noToken.status, noToken.body.code]).toEqual([401, 'ERR_GATEWAY_UNAUTHORIZED']);
    const forged = await call(police.url, 'POST', `/v1/messages/CaseReferral?to=${NGO}`, { token: `${t.slice(0, -4)}AAAA`, json: REFERRAL });
    expect([forged.status, forged.body.code]).toEqual([401, 'ERR_GATEWAY_UNAUTHORIZED']);
    // A token created while the gateway runs (as `liaison gateway token create` does) is honoured, with its scopes only.
    const readOnly = await police.tokenWith(['receive']);
    const scope = await call(police.url, 'POST', `/v1/messages/CaseReferral?to=${NGO}`, { token: readOnly, json: REFERRAL });
    expect([scope.status, scope.body.code]).toEqual([403, 'ERR_GATEWAY_SCOPE']);
    const notFound = await call(police.url, 'GET', '/v1/nothing-here', { token: readOnly });
    expect([notFound.status, notFound.body.code]).toEqual([404, 'ERR_GATEWAY_NOT_FOUND']);
    // Still serving: a good send goes through after all of that.
    const ok = await call(police.url, 'POST', `/v1/messages/CaseReferral?to=${NGO}`, { token: t, json: REFERRAL });
    expect(ok.status).toBe(201);
    const m = await pollFor(ngo, POLICE, ok.body.id);
    expect((await call(ngo.url, 'POST', m.ack, { token: ngo.token })).status).toBe(204);
  });

  it('a replayed Idempotency-Key answers the first send, also after a restart: one message, never two', async () => {
    const path = `/v1/messages/CaseReferral?to=${NGO}&caseRef=IDEM-1`;
    const headers = { 'idempotency-key': 'order-7781' };
    const first = await call(police.url, 'POST', path, { token: police.token, json: REFERRAL, headers });
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBe('false');
    const second = await call(police.url, 'POST', path, { token: police.token, json: REFERRAL, headers });
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.body).toEqual(first.body);
    const other = await call(police.url, 'POST', path, { token: police.token, json: { ...REFERRAL, summary: 'another' }, headers });
    expect([other.status, other.body.code]).toEqual([422, 'ERR_GATEWAY_IDEMPOTENCY']);

    // A restarted gateway (new process state, same agency directory) still knows the key.
    await police.stop();
    police = await startTestGateway(fed, POLICE, { token: police.token });
    const third = await call(police.url, 'POST', path, { token: police.token, json: REFERRAL, headers });
    expect(third.status).toBe(201);
    expect(third.headers.get('idempotent-replayed')).toBe('true');
    expect(third.body.id).toBe(first.body.id);

    // The recipient gets the message once.
    const m = await pollFor(ngo, POLICE, first.body.id);
    expect((await call(ngo.url, 'POST', m.ack, { token: ngo.token })).status).toBe(204);
    await new Promise((r) => setTimeout(r, 500));
    const after = await call(ngo.url, 'GET', '/v1/messages?wait=1&max=50', { token: ngo.token });
    expect(after.body.messages.filter((x: any) => x.id === first.body.id)).toEqual([]);
  }, 60_000);

  it('a client that disconnects mid-stream loses nothing: the un-acked message goes to the next reader', async () => {
    const sent = await call(police.url, 'POST', `/v1/messages/CaseReferral?to=${NGO}&caseRef=DROP-1`, { token: police.token, json: REFERRAL });
    expect(sent.status).toBe(201);
    const s1 = await openEventStream(ngo.url, ngo.token);
    await eventually(() => s1.events.some((e) => e.id === sent.body.id));
    expect(s1.events.find((e) => e.id === sent.body.id).delivery).toBe(1);
    s1.close(); // no ack: the client "crashed"
    const s2 = await openEventStream(ngo.url, ngo.token);
    expect(await eventually(() => s2.events.some((e) => e.id === sent.body.id))).toBe(true);
    const again = s2.events.find((e) => e.id === sent.body.id);
    expect(again).toMatchObject({ sender: POLICE, delivery: 2 });
    expect((await call(ngo.url, 'POST', again.ack, { token: ngo.token })).status).toBe(204);
    s2.close();

    // A long poll's lease expires the same way (1.5 s here): delivered again, then acknowledged for good.
    const polled = await call(police.url, 'POST', `/v1/messages/CaseReferral?to=${NGO}&caseRef=DROP-2`, { token: police.token, json: REFERRAL });
    const firstTake = await pollFor(ngo, POLICE, polled.body.id);
    expect(firstTake.delivery).toBe(1);
    const secondTake = await pollFor(ngo, POLICE, polled.body.id);
    expect(secondTake.delivery).toBe(2);
    expect((await call(ngo.url, 'POST', secondTake.ack, { token: ngo.token })).status).toBe(204);
  }, 30_000);

  it('a gateway stopped with a message delivered but not acknowledged hands it out again after its restart', async () => {
    const sent = await call(police.url, 'POST', `/v1/messages/CaseReferral?to=${NGO}&caseRef=RESTART-1`, { token: police.token, json: REFERRAL });
    expect(sent.status).toBe(201);
    const before = await pollFor(ngo, POLICE, sent.body.id);
    expect(before.delivery).toBe(1);
    await ngo.stop(); // never acknowledged
    ngo = await startTestGateway(fed, NGO, { leaseMs: 1_500, token: ngo.token });
    const after = await pollFor(ngo, POLICE, sent.body.id, 20_000);
    expect(after.body.summary).toBe(REFERRAL.summary);
    expect((await call(ngo.url, 'POST', after.ack, { token: ngo.token })).status).toBe(204);
  }, 40_000);

  it('retraction and correction over HTTP: recipients get the signed Retraction in their inbox; their ack sends the receipt', async () => {
    const sent = await call(police.url, 'POST', `/v1/messages/CaseReferral?to=${NGO}&caseRef=RETRACT-1`, { token: police.token, json: REFERRAL });
    const original = await pollFor(ngo, POLICE, sent.body.id);
    expect((await call(ngo.url, 'POST', original.ack, { token: ngo.token })).status).toBe(204);

    const notMine = await call(ngo.url, 'POST', `/v1/sent/${sent.body.id}/retract`, { token: ngo.token, json: { reason: 'not mine' } });
    expect(notMine.headers.get('content-type')).toMatch(/problem\+json/);
    expect([notMine.status, notMine.body.code]).toEqual([403, 'ERR_RETRACT_NOT_SENDER']);
    const noReason = await call(police.url, 'POST', `/v1/sent/${sent.body.id}/retract`, { token: police.token, json: {} });
    expect([noReason.status, noReason.body.code]).toEqual([400, 'ERR_USAGE']);

    const retracted = await call(police.url, 'POST', `/v1/sent/${sent.body.id}/retract`, { token: police.token, json: { reason: 'reported in error' } });
    expect(retracted.status).toBe(200);
    expect(retracted.body.record).toMatchObject({ originalId: sent.body.id, sender: POLICE, reason: 'reported in error' });
    const end = Date.now() + 10_000;
    let retraction: any;
    while (!retraction && Date.now() < end) {
      const r = await call(ngo.url, 'GET', '/v1/messages?wait=1&max=50', { token: ngo.token });
      retraction = r.body.messages.find((m: any) => m.type === 'Retraction' && m.body.originalId === sent.body.id);
    }
    expect(retraction).toMatchObject({ sender: POLICE, type: 'Retraction' });
    expect((await call(ngo.url, 'POST', retraction.ack, { token: ngo.token })).status).toBe(204);
    expect(
      await eventually(async () => {
        const st = await call(police.url, 'GET', `/v1/sent/${sent.body.id}/retract`, { token: police.token });
        return st.status === 200 && st.body.recipients.some((x: any) => x.agency === NGO && x.acknowledgedAt);
      }),
    ).toBe(true);

    const second = await call(police.url, 'POST', `/v1/messages/CaseReferral?to=${NGO}&caseRef=CORRECT-1`, { token: police.token, json: REFERRAL });
    const corrected = await call(police.url, 'POST', `/v1/sent/${second.body.id}/correct`, { token: police.token, json: { body: { ...REFERRAL, summary: 'Corrected summary.' }, reason: 'wrong summary' } });
    expect(corrected.status).toBe(200);
    expect(corrected.body.correctedId).not.toBe(second.body.id);
    const replacement = await pollFor(ngo, POLICE, corrected.body.correctedId);
    expect(replacement.body.summary).toBe('Corrected summary.');
    expect((await call(ngo.url, 'POST', replacement.ack, { token: ngo.token })).status).toBe(204);
  }, 40_000);

  it('back-pressure: with no reader the gateway holds a bounded window, the rest waits in JetStream; all arrive once read', async () => {
    // The NGO's gateway again, holding at most 2 messages per consumer for its readers.
    await ngo.stop();
    ngo = await startTestGateway(fed, NGO, { heldPerConsumer: 2, leaseMs: 1_500 });
    const small = ngo;
    const consumers = small.client.consumerSpecs().length;
    // Earlier tests' leftovers (e.g. the Retraction a correction sends) are acknowledged first.
    for (let empty = 0; empty < 2; ) {
      const r = await call(small.url, 'GET', '/v1/messages?wait=1&max=50', { token: small.token });
      for (const m of r.body.messages) await call(small.url, 'POST', m.ack, { token: small.token });
      empty = r.body.messages.length === 0 ? empty + 1 : 0;
    }
    {
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const r = await call(police.url, 'POST', `/v1/messages/CaseReferral?to=${NGO}&caseRef=BP-${i}`, { token: police.token, json: REFERRAL });
        ids.push(r.body.id);
      }
      expect(await eventually(() => small.gw.inbox.size > 0)).toBe(true);
      await new Promise((r) => setTimeout(r, 1_000));
      // All 20 are directed CaseReferrals: one consumer, so at most its window of 2 is held (of ${consumers} consumers).
      expect(small.gw.inbox.size, `${consumers} consumers`).toBeLessThanOrEqual(2);
      const seen = new Set<string>();
      const end = Date.now() + 20_000;
      while (ids.some((id) => !seen.has(id)) && Date.now() < end) {
        const r = await call(small.url, 'GET', '/v1/messages?wait=1&max=50', { token: small.token });
        for (const m of r.body.messages) {
          expect(small.gw.inbox.size).toBeLessThanOrEqual(2);
          seen.add(m.id);
          expect((await call(small.url, 'POST', m.ack, { token: small.token })).status).toBe(204);
        }
      }
      expect(ids.filter((id) => !seen.has(id))).toEqual([]);
    }
  }, 40_000);

  it('serves an OpenAPI 3.1 document generated from the schema catalogue that validates, and an interactive reference page', async () => {
    const { Validator } = await import('@seriousme/openapi-schema-validator');
    const doc = await call(police.url, 'GET', '/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    expect(doc.body.paths['/v1/messages/CaseReferral'].post.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/CaseReferral' });
    expect(doc.body.components.schemas.CaseReferral.properties.consentRecorded.type).toBe('boolean');
    const result = await new Validator().validate(doc.body);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    const page = await call(police.url, 'GET', '/docs/');
    expect(page.status).toBe(200);
    expect(String(page.body)).toContain('swagger-ui');
  });

  it('tokens are stored hashed in a 0600 file; a looser mode or a non-loopback plain-HTTP bind is refused', async () => {
    const file = tokenFilePath(fed.agencyDirs[POLICE]!);
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain(police.token);
    expect(text).toContain('"sha256"');
    const exposed = await startGateway({ client: await fed.connect(POLICE), agencyDir: fed.agencyDirs[POLICE]!, logger: silentLogger(), host: '0.0.0.0' }).catch((e: unknown) => e);
    expect(isLiaisonError(exposed, 'ERR_TLS')).toBe(true);
    await chmod(file, 0o644);
    try {
      const loose = await startGateway({ client: await fed.connect(POLICE), agencyDir: fed.agencyDirs[POLICE]!, logger: silentLogger() }).catch((e: unknown) => e);
      expect(isLiaisonError(loose, 'ERR_KEY_FILE_MODE')).toBe(true);
    } finally {
      await chmod(file, 0o600);
    }
  });
});
