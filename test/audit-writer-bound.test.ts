import { createHook } from 'node:async_hooks';
import { generateKeyPairSync } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEntry, ensureLedgerStream, readLedger } from '../services/audit/index.ts';
import { LedgerWriter } from '../services/audit/writer.ts';
import { startNatsServer, type TestNatsServer } from './fixture/nats-server.ts';

/** Promises created while `run` runs (async_hooks counts every promise the process creates). */
async function promisesCreatedBy(run: () => Promise<void>): Promise<number> {
  let n = 0;
  const hook = createHook({ init: (_id, type) => void (type === 'PROMISE' && n++) });
  hook.enable();
  try {
    await run();
  } finally {
    hook.disable();
  }
  return n;
}

describe('audit LedgerWriter: appends waiting for room cost O(1) each (issue 16: the registry flood)', () => {
  let server: TestNatsServer;
  let nc: NatsConnection;
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const key = { privateKey, kid: 'writer-test', publicJwk: publicKey.export({ format: 'jwk' }) } as Parameters<typeof LedgerWriter.open>[1];

  beforeAll(async () => {
    server = await startNatsServer({ name: 'audit-writer-bound', runtime: 'local', config: (ctx) => `listen: "${ctx.host}:${ctx.port}"\njetstream { store_dir: "${ctx.storeDir}" }\n` });
    nc = await connect({ servers: server.url });
    await ensureLedgerStream(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it('a burst of un-awaited appends far beyond maxInFlight creates a bounded number of promises per append, and stores every entry in order', async () => {
    // The audit appends one entry per registry check without awaiting it. Each append past the bound used to wait in
    // `Promise.race(inflight)`: every waiter re-attached a reaction (and a derived promise) to EVERY in-flight publish
    // each time one settled — quadratic; a 2 000 checks/s flood held millions of promises (GBs) in the exchange.
    const writer = await LedgerWriter.open(nc, key, { maxInFlight: 4, checkpointEvery: 1_000_000 });
    const N = 400;
    const at = new Date().toISOString();
    const created = await promisesCreatedBy(async () => {
      await Promise.all(Array.from({ length: N }, (_, i) => writer.append({ kind: 'gap', at, stream: 'BURST', from: i + 1, to: i + 1 })));
      await writer.flush();
    });
    // A publish through nats.js and JetStream costs a handful of promises; waiting for room must add O(1), not O(in flight).
    expect(created / N, `${created} promises for ${N} appends`).toBeLessThan(40);
    const stored = (await readLedger(nc)).map((e) => decodeEntry(e.data)).filter((e) => e.kind === 'gap');
    expect(stored.map((e) => (e.kind === 'gap' ? e.from : 0))).toEqual(Array.from({ length: N }, (_, i) => i + 1));
  });
});
