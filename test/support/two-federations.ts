import { createTestFederation, type TestFederation } from './federation.ts';

/** Two test federations, `med` and `atl`, each on its own nats-server with its own root, both on the example policy. */
export interface TwoFederations {
  med: TestFederation;
  atl: TestFederation;
  /** A side by federation name. */
  side(name: 'med' | 'atl'): TestFederation;
  stop(): Promise<void>;
}

/**
 * Start `med` and `atl` (different roots, different operators, separate nats-servers) and enrol the agencies
 * named for each. Both run the example policy, so both have agencies with the same local ids.
 */
export async function createTwoFederations(o: { med: string[]; atl: string[] }): Promise<TwoFederations> {
  const med = await createTestFederation({ agencies: o.med, name: 'med' });
  let atl: TestFederation;
  try {
    atl = await createTestFederation({ agencies: o.atl, name: 'atl' });
  } catch (err) {
    await med.stop();
    throw err;
  }
  return {
    med,
    atl,
    side: (name) => (name === 'med' ? med : atl),
    async stop() {
      await Promise.allSettled([med.stop(), atl.stop()]);
    },
  };
}
