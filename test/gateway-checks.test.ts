import { randomBytes } from 'node:crypto';
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway } from '../services/gateway/server.ts';
import { createKeyedHasher } from '../services/registry/index/index.ts';
import { IndexDocumentStore } from '../services/registry/index-store.ts';
import { PersonAlerts } from '../services/registry/persons.ts';
import { startRegistry, type Registry } from '../services/registry/service.ts';
import { silentLogger } from '../services/sdk/logging.ts';
import { trustPaths } from '../services/trust/index.ts';
import { readFile } from 'node:fs/promises';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { call, eventually, startTestGateway, type TestGateway } from './support/gateway.ts';

const POLICE = 'xa-border-police';
const NCB = 'xc-ncb';

describe('gateway: document and person checks against a running ¶16 registry; HTTPS', () => {
  let fed: TestFederation;
  let registry: Registry;
  let police: TestGateway;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [POLICE, NCB], name: 'gateway-checks' });
    const key = randomBytes(32);
    registry = await startRegistry({ client: await fed.connect(NCB), store: new IndexDocumentStore(key), persons: new PersonAlerts(createKeyedHasher(key)) });
    police = await startTestGateway(fed, POLICE);
  }, 60_000);
  afterAll(async () => {
    await police?.stop();
    await registry?.stop();
    await fed?.stop();
  });

  it('a reported stolen passport is a hit through POST /v1/checks/document; the reply is the registry’s, signed and bound to the request', async () => {
    const report = { documentNumber: 'XA7770001', issuingCountry: 'XAA', documentType: 'DOCUMENT_TYPE_PASSPORT', status: 'DOCUMENT_STATUS_STOLEN', holderName: 'Amir Haddad' };
    expect((await call(police.url, 'POST', '/v1/messages/DocumentReport', { token: police.token, json: report })).status).toBe(201);
    expect(
      await eventually(async () => {
        const r = await call(police.url, 'POST', '/v1/checks/document', { token: police.token, json: { documentNumber: 'XA7770001', issuingCountry: 'XAA' } });
        return r.status === 200 && r.body.body.outcome === 'CHECK_OUTCOME_HIT';
      }),
    ).toBe(true);
    const r = await call(police.url, 'POST', '/v1/checks/document', { token: police.token, json: { documentNumber: 'XA7770001', issuingCountry: 'XAA' } });
    expect(r.body).toMatchObject({ from: NCB, type: 'DocumentCheckResult' });
    expect(r.body.requestHash).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const none = await call(police.url, 'POST', '/v1/checks/person', { token: police.token, json: { subject: { name: { fullName: 'Nobody Known' } } } });
    expect(none.status).toBe(200);
    expect(none.body.body.outcome).toBe('CHECK_OUTCOME_NO_HIT');
    const invalid = await call(police.url, 'POST', '/v1/checks/document', { token: police.token, json: { documentNumber: 7 } });
    expect([invalid.status, invalid.body.code]).toEqual([422, 'ERR_BODY_INVALID']);
    const sendOnly = await police.tokenWith(['send']);
    const scope = await call(police.url, 'POST', '/v1/checks/document', { token: sendOnly, json: { documentNumber: 'XA7770001', issuingCountry: 'XAA' } });
    expect([scope.status, scope.body.code]).toEqual([403, 'ERR_GATEWAY_SCOPE']);
  }, 30_000);

  it('serves HTTPS with --tls-cert/--tls-key (here the exchange certificate from the federation CA)', async () => {
    const p = trustPaths(fed.trustDir);
    const tls = { cert: await readFile(p.serverCert), key: await readFile(p.serverKey) };
    const gw = await startGateway({ client: await fed.connect(POLICE), agencyDir: fed.agencyDirs[POLICE]!, logger: silentLogger(), tls });
    try {
      expect(gw.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      // node:https with the federation CA: the gateway's certificate chains to it.
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${gw.url}/v1/policy/why?send=DocumentReport`, { ca: fed.tls.ca, headers: { authorization: `Bearer ${police.token}` } }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString('utf8')));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
      expect(answer.status).toBe(200);
      expect((JSON.parse(answer.body) as { allowed: boolean }).allowed).toBe(true);
    } finally {
      await gw.close();
    }
  });
});
