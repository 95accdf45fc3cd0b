/**
 * The handled record's own reads across a connection cut (issue 16): the entry a claim finds when the copy was
 * claimed before (a redelivery), the process floor it checks, and the entry a reopen or a quarantine mark starts
 * from. The record's connection runs through a TCP link (test/support/cut-link.ts) cut right after one of its direct
 * gets is published (its answer dropped), refusing reconnects a while.
 * - A claim whose read awaits its answer at the cut is 'unavailable' at once with the connection ("connection lost",
 *   ERR_HANDLED_RECORD), not after nats.js's 5 s timeout; claimed again once the connection is back it finds the copy
 *   done: never handled twice.
 * - A reopen asked for while the connection is down reads at the reconnect and reopens the copy (before: its read was
 *   dropped by nats.js and failed untyped, 'timeout').
 */
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HandledRecord, type Claim } from '../services/sdk/client/handled.ts';
import { parseEntry, stateText } from '../services/sdk/client/record-entry.ts';
import { systemClock } from '../services/sdk/clock.ts';
import { HANDLED_BUCKET } from '../services/sdk/policy/index.ts';
import { bucketName } from '../services/sdk/subjects.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import type { CutLink } from './support/cut-link.ts';
import { cutAround, rawAgencyThroughCut } from './support/cut-service.ts';

const SENDER = 'xa-border-police';
const RECEIVER = 'mac-centre';

/** What a claim decided, with the error of an unavailable record. */
const decided = (c: Claim) => (c.outcome === 'unavailable' ? { outcome: c.outcome, code: c.error.code, message: c.error.message } : { outcome: c.outcome });

describe('the handled record reads across a connection cut (issue 16)', () => {
  let fed: TestFederation;
  /** The receiver's handled bucket, as the exchange administrator sees it (raw entries). */
  let kv: KV;
  let link: CutLink | undefined;
  let nc: NatsConnection | undefined;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [SENDER, RECEIVER], name: 'handled-read-cut' });
    kv = await new Kvm(fed.exchange.admin).open(bucketName(RECEIVER, HANDLED_BUCKET));
  }, 60_000);
  afterAll(async () => {
    await nc?.close();
    await link?.stop();
    await fed?.stop();
  });

  it('a claim whose read is cut is unavailable at once with the connection; claimed again it is done, never handled twice; a reopen asked while down reopens at the reconnect', async () => {
    ({ link, nc } = await rawAgencyThroughCut(fed, RECEIVER));
    const record = await HandledRecord.open(nc, RECEIVER, { clock: systemClock, replica: 1 });
    const handledId = `read-cut-done-${Date.now()}`;
    const quarantinedId = `read-cut-quarantined-${Date.now()}`;
    // A copy handled before (its redelivery finds the entry: the claim's create conflicts, then it reads it), and a
    // quarantined copy its operator reopens.
    await kv.put(record.keyOf(SENDER, handledId), 'done 1');
    await kv.put(record.keyOf(SENDER, quarantinedId), stateText('quarantined', Date.now()));

    const { cut, held, cutAt, failedAt } = await cutAround(
      { link, nc },
      (subject) => subject.includes('DIRECT.GET'),
      () => record.claim(SENDER, handledId).then(decided),
      () => record.reopen(SENDER, quarantinedId),
    );
    console.info(`[handled-read-cut] claim ${JSON.stringify(cut)} ${failedAt - cutAt} ms after the cut; reopen asked while down ${JSON.stringify(held)}`);
    expect(cut, 'the claim whose read the cut lost is unavailable with the connection, not by a timeout').toEqual({
      ok: { outcome: 'unavailable', code: 'ERR_HANDLED_RECORD', message: expect.stringMatching(/^connection lost .*read of .*read-cut-done/) },
    });
    expect(held, 'the reopen asked for while down read at the reconnect').toEqual({ ok: 'reopened' });
    expect(parseEntry((await kv.get(record.keyOf(SENDER, quarantinedId)))?.string() ?? '').state).toBe('free');
    // Back: the redelivered copy is found done (acknowledged without handling), and the entry is untouched.
    expect(decided(await record.claim(SENDER, handledId))).toEqual({ outcome: 'done' });
    expect((await kv.get(record.keyOf(SENDER, handledId)))?.string()).toBe('done 1');
  }, 120_000);
});
