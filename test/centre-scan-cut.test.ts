/**
 * The centre's whole-bucket scans across a connection cut (issue 16): `allEntities`, `allFacts` (strategic reports, a
 * retraction of facts recorded before their hashes were kept) and `factsOf` (a retraction by someone other than the
 * sender) read the correlation bucket one direct get at a time. The store's connection runs through a TCP link
 * (test/support/cut-link.ts) cut right after the nth direct get of the bucket's stream (its answer dropped) and
 * refusing reconnects a while. A scan awaiting an answer at the cut fails with the connection ("connection lost"),
 * typed, at once — never after nats.js's timeout, and never resolved with what it had read so far as if that were the
 * bucket; a scan asked for while the connection is down starts at the reconnect and returns every entry. The CLI's
 * `centre report` reads the bucket the same way (it opened it without the writer and gate before).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CorrelationStore, entityHash, type EntityRecord } from '../services/centre/store.ts';
import type { MessageFacts } from '../services/centre/facts.ts';
import { parseCommandArgs, type CliIo } from '../services/cli/args.ts';
import { CENTRE_COMMANDS } from '../services/cli/commands/centre.ts';
import { LiaisonClient } from '../services/sdk/client/client.ts';
import { agencyBuckets } from '../services/sdk/policy/index.ts';
import { inboxPrefix } from '../services/sdk/subjects.ts';
import { startCutLink } from './support/cut-link.ts';
import { armAfterPublish, connectThroughCut, cutAround, outcome } from './support/cut-service.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { until } from './support/workflows.ts';
import { plainFacts } from './support/centre-facts.ts';

const CENTRE = 'mac-centre';
const SENDERS = ['xa-border-police', 'xb-police', 'xa-coast-guard'];
/** Records and facts in the bucket: a scan of either is many direct gets, so the cut lands part-way. */
const ENTITIES = 24;
const FACTS = 24;
/** The message id every sender used (ids come from the sender): `factsOf` finds one facts entry per sender. */
const SHARED_ID = '0190f0a0-0000-7000-8000-00000000aaaa';

/** Does `subject` read the correlation bucket `bucket` (a direct get of its stream)? */
const readsBucket = (bucket: string) => (subject: string) => subject.includes(`DIRECT.GET.KV_${bucket}`);

const record = (reference: string): EntityRecord => ({ kind: 'vessel', namespace: 'imo', reference, firstSeen: 1, occurrences: [] }) as unknown as EntityRecord;
const facts = plainFacts;
const factsId = (i: number) => `0190f0a0-0000-7000-8000-${String(i).padStart(12, '0')}`;
/** A facts entry as `<sender> <id>`, to compare scans. */
const named = (f: MessageFacts) => `${f.agency} ${f.messageId}`;

describe('the centre\'s whole-bucket scans across a connection cut (issue 16)', () => {
  let fed: TestFederation;
  let bucket: string;
  const entityRefs: string[] = [];
  const factsNames: string[] = [];

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [CENTRE], name: 'centre-scan-cut' });
    const client = await fed.connect(CENTRE);
    try {
      bucket = agencyBuckets(client.policy, CENTRE).find((b) => b.kind === 'kv' && b.name === 'correlations')!.bucket;
      const store = await CorrelationStore.open(client.nc, bucket, { inboxPrefix: inboxPrefix(client.id) });
      // Records and facts interleaved in the stream, as the centre writes them.
      for (let i = 0; i < Math.max(ENTITIES, FACTS); i++) {
        if (i < ENTITIES) {
          expect(await store.writeEntity(entityHash(`imo:${9_200_000 + i}`), 0, record(`ref-${i}`))).toBeGreaterThan(0);
          entityRefs.push(`ref-${i}`);
        }
        if (i < FACTS) {
          const f = i < SENDERS.length ? facts(SENDERS[i]!, SHARED_ID) : facts(SENDERS[i % SENDERS.length]!, factsId(i));
          await store.putFacts(f);
          factsNames.push(named(f));
        }
      }
    } finally {
      await client.close();
    }
  }, 60_000);
  afterAll(async () => fed?.stop());

  it('an entity scan awaiting an answer at the cut fails with the connection, not its timeout nor partial; a facts scan asked for while down returns every entry', async () => {
    const { client, link } = await connectThroughCut(fed, CENTRE);
    const store = await CorrelationStore.open(client.nc, bucket, { inboxPrefix: inboxPrefix(client.id) });
    try {
      const { cut, held, cutAt, failedAt } = await cutAround(
        { link, nc: client.nc },
        readsBucket(bucket),
        () => store.allEntities(),
        () => store.allFacts(),
        8,
      );
      console.info(`[centre-scan-cut] entities: cut ${'ok' in cut ? `returned ${cut.ok.length}` : JSON.stringify(cut)} ${failedAt - cutAt} ms after the cut; held ${'ok' in held ? `returned ${held.ok.length}` : JSON.stringify(held)}`);
      expect(cut, 'the scan whose answer was lost failed with the connection (typed), not by a timeout, nor resolved part-way').toEqual({ code: 'ERR_STATE_READ', message: expect.stringMatching(/^connection lost .*ent\./) });
      expect('ok' in held && held.ok.map(named).sort(), 'the facts scan asked for while down was answered in full at the reconnect').toEqual([...factsNames].sort());
      // Read again once connected: every record.
      expect((await store.allEntities()).map((e) => e.record.reference).sort()).toEqual([...entityRefs].sort());
    } finally {
      await client.close();
      await link.stop();
    }
  }, 120_000);

  it('factsOf cut part-way fails with the connection; one asked for while down finds every sender\'s facts of the id', async () => {
    const { client, link } = await connectThroughCut(fed, CENTRE);
    const store = await CorrelationStore.open(client.nc, bucket, { inboxPrefix: inboxPrefix(client.id) });
    try {
      const { cut, held } = await cutAround(
        { link, nc: client.nc },
        readsBucket(bucket),
        () => store.factsOf(SHARED_ID),
        () => store.factsOf(SHARED_ID),
        2,
      );
      console.info(`[centre-scan-cut] factsOf: cut ${'ok' in cut ? `returned ${cut.ok.map(named).join(', ')}` : JSON.stringify(cut)}; held ${'ok' in held ? `returned ${held.ok.length}` : JSON.stringify(held)}`);
      expect(cut, 'the scan whose answer was lost failed with the connection (typed), not by a timeout, nor resolved part-way').toEqual({ code: 'ERR_STATE_READ', message: expect.stringMatching(/^connection lost .*facts\./) });
      expect('ok' in held && held.ok.map((f) => f.agency).sort(), 'the scan asked for while down found each sender\'s facts').toEqual([...SENDERS].sort());
    } finally {
      await client.close();
      await link.stop();
    }
  }, 120_000);

  it('liaison centre report reads through the same gate: a report cut part-way fails with the connection, not by a timeout', async () => {
    const link = await startCutLink(fed.server.url);
    const cmd = CENTRE_COMMANDS.find((c) => c.path.join(' ') === 'centre report')!;
    const io: CliIo = { out: () => undefined, err: () => undefined, interrupted: new Promise(() => undefined) };
    // The command connects by itself: the connection it makes is the one to cut part-way through its scans, and
    // reconnects are refused from then on (the exchange away for good).
    const connect = LiaisonClient.connect;
    LiaisonClient.connect = async (o) => {
      const c = await connect.call(LiaisonClient, o);
      armAfterPublish(c.nc, readsBucket(bucket), 8, () => {
        link.refuse(true);
        link.armCut(1);
      });
      return c;
    };
    try {
      let endedAt = 0;
      const run = outcome(cmd.run(parseCommandArgs(cmd, ['--as', fed.agencyDirs[CENTRE]!, '--server', link.url]), io)).finally(() => (endedAt = Date.now()));
      const at = await Promise.race([link.cut.then(() => Date.now()), new Promise<number>((r) => setTimeout(() => r(0), 30_000))]);
      expect(at, 'the connection was cut part-way through the report\'s scans').toBeGreaterThan(0);
      await until(() => endedAt > 0, 60_000, 'the report to end');
      const r = await run;
      console.info(`[centre-scan-cut] CLI report: ${JSON.stringify(r)} ${endedAt - at} ms after the cut`);
      expect(r, 'the report whose scan was cut failed with the connection, not by nats.js\'s timeout').toEqual({ code: 'ERR_STATE_READ', message: expect.stringMatching(/^connection lost /) });
    } finally {
      LiaisonClient.connect = connect;
      link.refuse(false);
      await link.stop();
    }
  }, 120_000);
});
