import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { OffsetClock } from '../services/sdk/clock.ts';
import { headers as natsHeaders, type Msg } from '@nats-io/transport-node';
import { requestHash, SERVICE_ERROR_HEADER, type Serving } from '../services/sdk/client/rpc.ts';
import { CryptoPool } from '../services/sdk/crypto/pool.ts';
import type { ArrivingRequest } from '../services/sdk/client/serve-admission.ts';
import type { MessageHeader } from '../services/sdk/envelope/header.ts';
import { openEnvelope, type ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { inboxPrefix, serviceSubject } from '../services/sdk/subjects.ts';
import { isLiaisonError, type ErrorCode } from '../services/sdk/errors.ts';
import { formatRegistryFigures } from '../services/cli/commands/registry-stats.ts';
import type { RegistryFigures } from '../services/registry/figures.ts';
import { checkAdmission, type AdmissionConfig } from '../services/registry/admission.ts';
import { BUSY_HEADER, verifyBusyStatement } from '../services/sdk/client/busy-statement.ts';
import { MapDocumentStore } from '../services/registry/map-store.ts';
import { PersonAlerts } from '../services/registry/persons.ts';
import { createKeyedHasher } from '../services/registry/index/index.ts';
import { startRegistry, type Registry } from '../services/registry/service.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';

const until = async (pred: () => boolean, ms = 5_000) => {
  const end = Date.now() + ms;
  while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return pred();
};

const STOLEN = { documentNumber: 'XA5550001', issuingCountry: 'XAA', documentType: 'DOCUMENT_TYPE_PASSPORT', status: 'DOCUMENT_STATUS_STOLEN', holderName: 'Amir Haddad' };
const CHECK = { documentNumber: 'XA5550001', issuingCountry: 'XAA' };

/** A check's fate: its outcome, or the code of the error it ended in. */
async function fate(client: LiaisonClient, timeoutMs: number): Promise<string> {
  try {
    const r = await client.request('DocumentCheckRequest', CHECK, { timeoutMs });
    return String(r.body.outcome);
  } catch (err) {
    return isLiaisonError(err) ? err.code : `untyped: ${String(err)}`;
  }
}

describe('¶16 registry: bounded admission of checks (issue 16)', () => {
  let fed: TestFederation;
  let ncb: LiaisonClient | undefined;
  let police: LiaisonClient;
  let xbPolice: LiaisonClient;
  let registry: Registry | undefined;

  const start = async (admission: AdmissionConfig, clock = new OffsetClock()) => {
    const key = randomBytes(32);
    ncb = await fed.connect('xc-ncb'); // a connection of its own: the previous registry's consumers went with the previous one
    registry = await startRegistry({ client: ncb, store: new MapDocumentStore(key), persons: new PersonAlerts(createKeyedHasher(key)), admission, clock });
    await police.send('DocumentReport', STOLEN); // each registry here starts empty: report the record it is checked against
    expect(await until(() => registry!.stats.reports >= 1)).toBe(true);
    return registry;
  };

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['xa-border-police', 'xb-police', 'xc-ncb'], name: 'registry-busy' });
    police = await fed.connect('xa-border-police');
    xbPolice = await fed.connect('xb-police');
  });
  afterEach(async () => {
    await registry?.stop();
    await ncb?.close();
    registry = undefined;
    ncb = undefined;
  });
  afterAll(async () => {
    await fed?.stop();
  });

  it('a check that waited longer than the bound gets a busy refusal with the signed busy statement at once, raised as ERR_BUSY (not a timeout); fresh checks are answered', async () => {
    // The registry's clock runs 3 s ahead: every check it reaches looks 3 s old, past the 1 s bound.
    const clock = new OffsetClock();
    clock.advance(3_000);
    const reg = await start({ maxWaitMs: 1_000 }, clock);
    const t0 = Date.now();
    const err = await xbPolice.request('DocumentCheckRequest', CHECK, { timeoutMs: 4_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isLiaisonError(err) && err.code).toBe('ERR_BUSY');
    expect(Date.now() - t0).toBeLessThan(3_000); // answered, not waited out
    expect((err as Error).message).toMatch(/xc-ncb refused to answer now \(busy, signed statement of .*checks wait more than 1000 ms/);
    expect(reg.stats.busyLate).toBe(1);
    expect(reg.stats.checks).toBe(0); // refused before the lookup
    // Person checks too.
    const personErr = await xbPolice.request('PersonCheckRequest', { subject: { name: { givenNames: 'Mohamed', familyName: 'Al Hassan' } } }, { timeoutMs: 4_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isLiaisonError(personErr) && personErr.code).toBe('ERR_BUSY');
    expect((personErr as Error).message).toMatch(/busy, signed statement of .*checks wait more than 1000 ms/);
    expect(reg.stats.busyLate).toBe(2);

    clock.advance(-3_000); // back in step: the same check is worked on and hits
    expect(await fate(xbPolice, 4_000)).toBe('CHECK_OUTCOME_HIT');
    expect(reg.stats.busyLate).toBe(2);
  });

  it('a burst of concurrent checks against a tiny bound: every one answered (hit or ERR_BUSY), none timing out, and the registry keeps answering', async () => {
    const reg = await start({ maxInProcess: 1, maxWaitMs: 50 });
    const burst = 400;
    const fates = await Promise.all(Array.from({ length: burst }, (_, i) => fate(i % 2 ? xbPolice : police, 20_000)));
    const counts: Record<string, number> = {};
    for (const f of fates) counts[f] = (counts[f] ?? 0) + 1;
    expect(Object.keys(counts).every((k) => k === 'CHECK_OUTCOME_HIT' || k === ('ERR_BUSY' satisfies ErrorCode)), JSON.stringify(counts)).toBe(true);
    expect(counts.ERR_BUSY ?? 0, JSON.stringify(counts)).toBeGreaterThan(0); // the bound was reached and enforced
    expect(reg.stats.busyLate + reg.stats.busyFull).toBe(counts.ERR_BUSY);
    // After the burst, a check is worked on again.
    await new Promise((r) => setTimeout(r, 200));
    expect(await fate(xbPolice, 4_000)).toBe('CHECK_OUTCOME_HIT');
  });
});

describe('checkAdmission: at most N checks in process, counted from arrival', () => {
  /** A check as it arrives (claimed header, unverified), as the SDK's serve() hands it to admission. */
  const arriving = (id: string, createdAt = new Date()): ArrivingRequest => ({ requester: 'xb-police', type: 'DocumentCheckRequest', header: { id, createdAt } as MessageHeader });

  it('a check beyond the limit is refused busy at once while the admitted ones are in process; once one is released the next is admitted; a late check is refused late; other types are not counted', () => {
    const counters = { busyFull: 0, busyLate: 0 };
    const admission = checkAdmission(['DocumentCheckRequest'], { config: { maxInProcess: 2, maxWaitMs: 4_000 }, clock: { now: () => Date.now() }, counters });
    expect(admission.admit(arriving('a'))).toBeUndefined();
    expect(admission.admit(arriving('b'))).toBeUndefined();
    expect(admission.admit(arriving('c'))).toEqual({ busy: expect.stringMatching(/2 checks in process \(at most 2\)/) });
    expect(counters).toEqual({ busyFull: 1, busyLate: 0 });
    admission.release();
    expect(admission.admit(arriving('d'))).toBeUndefined();
    // The reason is one fixed text per bound (the busy statement is signed once per window per reason).
    expect(admission.admit(arriving('e'))).toEqual(admission.admit(arriving('e2')));
    // A check whose claimed created_at is older than the wait bound is refused late, even with room.
    admission.release();
    admission.release();
    expect(admission.admit(arriving('f', new Date(Date.now() - 6_000)))).toEqual({ busy: expect.stringMatching(/more than 4000 ms/) });
    expect(admission.admit(arriving('g', new Date(Date.now() - 60_000)))).toEqual({ busy: expect.stringMatching(/more than 4000 ms/) });
    expect(counters).toEqual({ busyFull: 3, busyLate: 2 });
  });
});

describe('serve(): admission before verification, concurrent answers, busy answers only to the requester (issue 16)', () => {
  let fed: TestFederation;
  let police: LiaisonClient;
  let xbPolice: LiaisonClient;
  let ncb: LiaisonClient | undefined;
  let serving: Serving | undefined;
  const POLICE = 'xa-border-police';
  const NCB = 'xc-ncb';
  const subject = serviceSubject('documents', 'DocumentCheckRequest', POLICE);

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [POLICE, 'xb-police', NCB], name: 'serve-admission' });
    police = await fed.connect(POLICE);
    xbPolice = await fed.connect('xb-police');
  });
  afterEach(async () => {
    await serving?.stop();
    await ncb?.close();
    serving = undefined;
    ncb = undefined;
  });
  afterAll(async () => {
    await fed?.stop();
  });

  /** A handler held until `open()`: what is in it stays in process. */
  const held = () => {
    let entered = 0;
    let active = 0;
    let maxActive = 0;
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    return {
      get entered() {
        return entered;
      },
      get maxActive() {
        return maxActive;
      },
      open,
      handler: async (req: ReceivedMessage) => {
        entered++;
        maxActive = Math.max(maxActive, ++active);
        await Promise.race([gate, new Promise((r) => setTimeout(r, 1_500))]);
        active--;
        return { type: 'DocumentCheckResult', body: { requestId: req.header.id, outcome: 'CHECK_OUTCOME_NO_HIT' } };
      },
    };
  };

  /** The bureau serving checks through `handler`, with at most one check in process (admission as the registry's). */
  const serveFull = async (handler: (req: ReceivedMessage) => Promise<{ type: string; body: unknown }>, cryptoWorkers?: number) => {
    const counters = { busyFull: 0, busyLate: 0 };
    ncb = await fed.connect(NCB, cryptoWorkers === undefined ? {} : { cryptoWorkers });
    serving = await ncb.serve({ DocumentCheckRequest: handler }, { admission: checkAdmission(['DocumentCheckRequest'], { config: { maxInProcess: 1 }, clock: { now: () => Date.now() }, counters }) });
    return counters;
  };

  /** The police's signed check, its signature bytes altered (still 64 bytes): a request that does not verify. */
  const tampered = () => {
    const copy = police.seal('DocumentCheckRequest', CHECK, { to: NCB }).copies[0]!;
    const codec = police.openContext().codec;
    const env = codec.decodeEnvelope(copy.data);
    const signature = Uint8Array.from(env.signature);
    signature[0]! ^= 0xff;
    const h = natsHeaders();
    for (const [k, v] of Object.entries(copy.headers)) h.set(k, v);
    return { data: codec.encodeEnvelope({ ...env, signature }), headers: h };
  };

  /**
   * What the police's raw request got back: the verified reply's outcome, or the refusal's code — for ERR_BUSY,
   * 'ERR_BUSY signed' when its busy statement verifies as the bureau's (else the code it is refused with).
   */
  const answerTo = (m: Msg, sent: Uint8Array): string => {
    const refusal = m.headers?.get(SERVICE_ERROR_HEADER);
    if (refusal?.startsWith('ERR_BUSY:')) {
      try {
        verifyBusyStatement(m.headers?.get(BUSY_HEADER) || undefined, { server: NCB, keys: police.openContext().keys, sentAt: Date.now(), now: Date.now() });
        return 'ERR_BUSY signed';
      } catch (err) {
        return isLiaisonError(err) ? err.code : String(err);
      }
    }
    if (refusal) return refusal.split(':')[0]!;
    const r = openEnvelope(police.openContext(), { subject: m.subject, data: m.data, header: (n) => m.headers?.get(n) || undefined }, { route: 'reply', from: NCB, requestHash: requestHash(sent) });
    return String(r.body.outcome);
  };

  it.each([0, 1])('with the limit reached, a request whose signature does not verify is answered busy (with the signed busy statement) without being verified; once there is room it is verified and refused ERR_SIGNATURE_INVALID (%i crypto worker threads)', async (cryptoWorkers) => {
    const h = held();
    const counters = await serveFull(h.handler, cryptoWorkers);
    const first = police.request('DocumentCheckRequest', CHECK, { timeoutMs: 8_000 });
    expect(await until(() => h.entered === 1)).toBe(true);
    const bad = tampered();
    // Admission after verification would refuse this as ERR_SIGNATURE_INVALID: it would have spent a verify on it.
    expect(answerTo(await police.nc.request(subject, bad.data, { headers: bad.headers, timeout: 4_000 }), bad.data)).toBe('ERR_BUSY signed');
    expect(counters.busyFull).toBe(1);
    h.open();
    expect((await first).body.outcome).toBe('CHECK_OUTCOME_NO_HIT');
    // Now with room: the same bytes are verified, and refused for their signature.
    expect(answerTo(await police.nc.request(subject, bad.data, { headers: bad.headers, timeout: 4_000 }), bad.data)).toBe('ERR_SIGNATURE_INVALID');
    expect(h.entered).toBe(1); // neither reached the handler
  });

  it('a busy answer goes only along the response route into the requester’s own account: naming another agency’s inbox as reply reaches nothing; a request signed by another agency is not answered busy', async () => {
    const h = held();
    const counters = await serveFull(h.handler);
    const first = police.request('DocumentCheckRequest', CHECK, { timeoutMs: 8_000 });
    expect(await until(() => h.entered === 1)).toBe(true);
    // xb-police listens on its own inbox; the police names it as the reply of a check while the bureau is full.
    const stolen: Msg[] = [];
    const sub = xbPolice.nc.subscribe(`${inboxPrefix('xb-police')}.stolen-busy`, { callback: (_e, m) => void stolen.push(m) });
    await xbPolice.nc.flush();
    const copy = police.seal('DocumentCheckRequest', CHECK, { to: NCB }).copies[0]!;
    const hdrs = natsHeaders();
    for (const [k, v] of Object.entries(copy.headers)) hdrs.set(k, v);
    police.nc.publish(subject, copy.data, { reply: `${inboxPrefix('xb-police')}.stolen-busy`, headers: hdrs });
    await police.nc.flush();
    expect(await until(() => counters.busyFull === 1)).toBe(true); // the bureau did answer it busy…
    await new Promise((r) => setTimeout(r, 500));
    expect(stolen).toHaveLength(0); // …and the answer never reached xb-police
    expect(serving!.dropped).toBe(0);
    sub.unsubscribe();
    // The control: the same request with the police's own inbox gets the signed busy answer.
    expect(answerTo(await police.nc.request(subject, copy.data, { headers: hdrs, timeout: 4_000 }), copy.data)).toBe('ERR_BUSY signed');
    // A request signed by xb-police arriving on the police's subject: its claimed sender is not the requester the
    // broker authenticated, so admission does not answer it (busy would be addressed to xb-police); the receive
    // pipeline refuses it before any verification.
    const other = xbPolice.seal('DocumentCheckRequest', CHECK, { to: NCB }).copies[0]!;
    const oh = natsHeaders();
    for (const [k, v] of Object.entries(other.headers)) oh.set(k, v);
    expect(answerTo(await police.nc.request(subject, other.data, { headers: oh, timeout: 4_000 }), other.data)).toBe('ERR_SUBJECT_MISMATCH');
    expect(counters.busyFull).toBe(2);
    h.open();
    await first;
  });

  it('requests are answered concurrently: slow handlers overlap instead of following each other', async () => {
    const h = held();
    ncb = await fed.connect(NCB);
    serving = await ncb.serve({ DocumentCheckRequest: h.handler });
    const n = 6;
    const all = Promise.all(Array.from({ length: n }, () => police.request('DocumentCheckRequest', CHECK, { timeoutMs: 15_000 })));
    // Serialized, only one would ever be in the handler (each then waits out its 1.5 s).
    await until(() => h.entered === n, 5_000);
    expect(h.maxActive).toBe(n);
    h.open();
    expect((await all).map((r) => r.body.outcome)).toEqual(Array(n).fill('CHECK_OUTCOME_NO_HIT'));
    expect(serving.concurrentHighWater).toBe(n);
  });

  it('with a crypto pool, requests are verified and answers signed on its worker threads (two pool jobs each), and a bad signature still refused ERR_SIGNATURE_INVALID', async () => {
    const pool = CryptoPool.create({ size: 1 });
    try {
      await pool.ready(); // its thread has started: jobs go to it (before, they run inline)
      ncb = await fed.connect(NCB);
      serving = await ncb.serve({ DocumentCheckRequest: (req) => ({ type: 'DocumentCheckResult', body: { requestId: req.header.id, outcome: 'CHECK_OUTCOME_NO_HIT' } }) }, { cryptoPool: pool });
      const n = 20;
      const answers = await Promise.all(Array.from({ length: n }, () => police.request('DocumentCheckRequest', CHECK, { timeoutMs: 10_000 })));
      expect(answers.map((r) => r.body.outcome)).toEqual(Array(n).fill('CHECK_OUTCOME_NO_HIT'));
      expect(pool.stats().jobs).toBeGreaterThanOrEqual(2 * n); // a verification and a signature per request
      const bad = tampered();
      expect(answerTo(await police.nc.request(subject, bad.data, { headers: bad.headers, timeout: 4_000 }), bad.data)).toBe('ERR_SIGNATURE_INVALID');
    } finally {
      await pool.close();
    }
  });

  it('with `concurrency` in process and `maxWaiting` waiting, more requests are refused ERR_BUSY at once; the waiting ones are answered', async () => {
    const h = held();
    ncb = await fed.connect(NCB);
    serving = await ncb.serve({ DocumentCheckRequest: h.handler }, { concurrency: 2, maxWaiting: 2 });
    const fates = Array.from({ length: 6 }, () => fate(police, 15_000));
    expect(await until(() => serving!.busy === 2 && h.entered === 2, 5_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 200)); // (verification may run on a crypto thread: give a third the time to enter)
    expect(h.entered).toBe(2);
    h.open();
    const counts: Record<string, number> = {};
    for (const f of await Promise.all(fates)) counts[f] = (counts[f] ?? 0) + 1;
    expect(counts).toEqual({ CHECK_OUTCOME_NO_HIT: 4, ERR_BUSY: 2 });
    expect(h.maxActive).toBe(2);
  });
});

describe('liaison registry stats: busy refusals', () => {
  const figures = (busy?: number): RegistryFigures => ({
    agency: 'xc-ncb',
    replica: 1,
    updatedAt: '2026-01-01T00:00:00.000Z',
    startedAt: '2026-01-01T00:00:00.000Z',
    everyMs: 10_000,
    snapshotStore: 'object store xc-ncb_snapshots',
    documents: { total: 0, byKindAndStatus: {} },
    persons: 0,
    counters: { reports: 0, statusChanges: 0, alerts: 0, checks: 5, hits: 1, hitNotices: 1, refused: 0, unchanged: 0, ...(busy === undefined ? {} : { busy }) },
    restored: { fromSnapshot: false, documents: 0, persons: 0, replayed: 4 },
    memory: { indexBytes: 0, bytesPerRecord: 0, rssBytes: 0, heapUsedBytes: 0, externalBytes: 0 },
  });

  it('the figures line counts the checks refused busy, and says nothing of busy when none were (or an older replica wrote the figures)', () => {
    expect(formatRegistryFigures(figures(7)).join('\n')).toContain('7 checks refused busy');
    expect(formatRegistryFigures(figures(0)).join('\n')).not.toContain('busy');
    expect(formatRegistryFigures(figures()).join('\n')).not.toContain('busy');
  });
});
