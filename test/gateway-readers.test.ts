import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { call, eventually, openEventStream, startTestGateway, type TestGateway } from './support/gateway.ts';

const POLICE = 'xa-border-police';
const NGO = 'xa-ngo-harbour';

const REFERRAL = {
  kind: 'REFERRAL_KIND_PROTECTION',
  summary: 'Man travelling alone, asks for legal counselling.',
  consentRecorded: true,
};

/** A reader refused for being one too many: 429 problem+json ERR_GATEWAY_BUSY with Retry-After. */
function expectBusy(r: { status: number; headers: Headers; body: any }, bound: RegExp): void {
  expect([r.status, r.body.code]).toEqual([429, 'ERR_GATEWAY_BUSY']);
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(r.headers.get('retry-after')).toBe('3');
  expect(r.body.detail).toMatch(bound);
}

describe('gateway readers are bounded: event streams and long polls per API token and in all', () => {
  let fed: TestFederation;
  let police: TestGateway;
  let ngo: TestGateway;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [POLICE, NGO], name: 'gateway-readers' });
    police = await startTestGateway(fed, POLICE);
    ngo = await startTestGateway(fed, NGO, { maxReadersPerToken: 1, maxReaders: 2, busyRetryAfterS: 3 });
  }, 60_000);
  afterAll(async () => {
    await police?.stop();
    await ngo?.stop();
    await fed?.stop();
  });

  it('cap 1 per token: a second stream or long poll of that token gets 429 with Retry-After; the first keeps working; the slot frees on disconnect', async () => {
    const first = await openEventStream(ngo.url, ngo.token);
    const second = await call(ngo.url, 'GET', '/v1/messages', { token: ngo.token, headers: { accept: 'text/event-stream' } });
    expectBusy(second, /per token/);
    const poll = await call(ngo.url, 'GET', '/v1/messages?wait=0', { token: ngo.token });
    expectBusy(poll, /per token/);

    // The first stream still delivers, and its message is acknowledged.
    const sent = await call(police.url, 'POST', `/v1/messages/CaseReferral?to=${NGO}`, { token: police.token, json: REFERRAL });
    expect(sent.status).toBe(201);
    await first.until(1);
    expect(first.events[0]).toMatchObject({ sender: POLICE, id: sent.body.id });
    expect((await call(ngo.url, 'POST', first.events[0].ack, { token: ngo.token })).status).toBe(204);

    // Closing it gives the slot back: the token may read again.
    first.close();
    expect(await eventually(async () => (await call(ngo.url, 'GET', '/v1/messages?wait=0', { token: ngo.token })).status === 200)).toBe(true);
    expect(ngo.gw.readers.open).toBe(0);
  });

  it('cap 2 in all: a third reader of another token gets 429 while two are open, and is served once one closes', async () => {
    const [a, b] = [await ngo.tokenWith(['receive']), await ngo.tokenWith(['receive'])];
    const one = await openEventStream(ngo.url, ngo.token);
    const two = await openEventStream(ngo.url, a);
    const third = await call(ngo.url, 'GET', '/v1/messages?wait=0', { token: b });
    expectBusy(third, /the gateway already serves 2/);
    // A refused reader holds nothing: the count is still the two streams.
    expect(ngo.gw.readers.open).toBe(2);
    one.close();
    expect(await eventually(() => ngo.gw.readers.open === 1)).toBe(true);
    expect((await call(ngo.url, 'GET', '/v1/messages?wait=0', { token: b })).status).toBe(200);
    two.close();
    expect(await eventually(() => ngo.gw.readers.open === 0)).toBe(true);
  });

  it('a long poll holds its slot while it waits and frees it when it answers', async () => {
    const waiting = call(ngo.url, 'GET', '/v1/messages?wait=2', { token: ngo.token });
    expect(await eventually(() => ngo.gw.readers.open === 1, 1_500)).toBe(true);
    expectBusy(await call(ngo.url, 'GET', '/v1/messages?wait=0', { token: ngo.token }), /per token/);
    expect((await waiting).status).toBe(200);
    expect(ngo.gw.readers.open).toBe(0);
  });
});
