import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type Registry } from '../services/registry/service.ts';
import { registryState } from '../services/registry/state.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';

const until = async (pred: () => boolean, ms = 5_000) => {
  const end = Date.now() + ms;
  while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return pred();
};

describe('two registry replicas: each keeps the full index, both answer, and the answers agree', () => {
  let fed: TestFederation;
  let replicas: Registry[];
  let police: LiaisonClient;
  let checker: LiaisonClient;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['xa-border-police', 'xb-police', 'xc-ncb'], name: 'registry-replicas' });
    const r1 = await fed.connect('xc-ncb', { replica: 1 });
    const r2 = await fed.connect('xc-ncb', { replica: 2 });
    expect(r1.consumerSpecs().map((c) => c.name).some((n) => n.endsWith('__r2'))).toBe(false);
    expect(r2.consumerSpecs().every((c) => c.name.endsWith('__r2'))).toBe(true);
    replicas = [await startRegistry({ client: r1, ...registryState(randomBytes(32)) }), await startRegistry({ client: r2, ...registryState(randomBytes(32)) })];
    police = await fed.connect('xa-border-police');
    checker = await fed.connect('xb-police');
  });
  afterAll(async () => {
    for (const r of replicas ?? []) await r.stop();
    await fed?.stop();
  });

  it('every report reaches both replicas, and checks spread over both return the same outcome', async () => {
    for (let i = 0; i < 20; i++) {
      await police.send('DocumentReport', { documentNumber: `XA20000${String(i).padStart(2, '0')}`, issuingCountry: 'XAA', documentType: 'DOCUMENT_TYPE_PASSPORT', status: 'DOCUMENT_STATUS_LOST' });
    }
    expect(await until(() => replicas.every((r) => r.store.size === 20))).toBe(true);
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => checker.request('DocumentCheckRequest', { documentNumber: `XA20000${String(i % 20).padStart(2, '0')}`, issuingCountry: 'XAA' })),
    );
    expect(results.every((r) => r.body.outcome === 'CHECK_OUTCOME_HIT')).toBe(true);
    expect(replicas.every((r) => r.stats.checks > 0)).toBe(true);
    expect(replicas[0]!.stats.checks + replicas[1]!.stats.checks).toBe(60);
  });
});
