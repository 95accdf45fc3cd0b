import { readFile } from 'node:fs/promises';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';
import { compilePermissions } from '../services/sdk/policy/index.ts';
import { issueUser, openFederation, pushFederationAccounts, readAgencyRecord, refreshExchangeAccount, trustPaths, writeAgencyRecord } from '../services/trust/index.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';

/**
 * Agencies enrolled before they had NATS accounts of their own hold users of the exchange account, the one that
 * holds JetStream. The exchange revokes every such user there, so old credentials cannot bypass the accounts.
 */
describe('accounts: credentials issued in the exchange account before agencies had their own are refused', () => {
  let fed: TestFederation;
  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['xa-ngo-harbour'], name: 'legacy' });
  });
  afterAll(async () => fed?.stop());

  it('a legacy agency user connects until the exchange account is refreshed, then is refused', async () => {
    const id = 'xa-ngo-harbour';
    const accountSeed = (await readFile(trustPaths(fed.trustDir).accountSeed, 'utf8')).trim();
    const legacy = await issueUser({ accountSigner: accountSeed, name: id, permissions: compilePermissions(fed.exchange.policy, id, typeCatalogOf(fed.catalog)) });
    const record = (await readAgencyRecord(fed.trustDir, id))!;
    record.nats.users.unshift({ publicKey: legacy.publicKey, issuedAt: new Date(Date.now() - 60_000).toISOString(), expiresAt: new Date(Date.now() + 3_600_000).toISOString(), jwt: legacy.jwt });
    await writeAgencyRecord(fed.trustDir, record);
    const dial = () => connect({ servers: fed.server.url, tls: fed.tls, authenticator: credsAuthenticator(new TextEncoder().encode(legacy.creds)), reconnect: false });
    // Control: before the refresh, the old kind of credential joins the exchange account.
    const before = await dial();
    await before.close();
    await refreshExchangeAccount(await openFederation(fed.trustDir));
    await pushFederationAccounts({ url: fed.server.url, trustDir: fed.trustDir, agencies: [] });
    await expect(dial()).rejects.toThrow(/Authorization Violation/);
    // The agency's current credentials (its own account) still work.
    const current = await fed.connect(id, { reconnect: false });
    expect(current.nc.isClosed()).toBe(false);
  });
});
