/**
 * The centre's start-up facts migration across a connection cut (issue 16): `migrateCentreFacts` scans the correlation
 * bucket for facts still under their old key (`facts.<id>`) one direct get at a time, then moves each (a create, a
 * delete). The centre's connection runs through a TCP link (test/support/cut-link.ts) cut right after the nth request
 * of the migration (its answer dropped), reconnects refused a while. The start must succeed: the request whose answer
 * was lost is made again at the reconnect (the centre's ReadGate), never left to fail the start after nats.js's
 * timeout; and every old entry ends at its (sender, id) key, none left at the old one.
 */
import { describe, expect, it } from 'vitest';
import type { MessageFacts } from '../services/centre/facts.ts';
import { startCentre } from '../services/centre/index.ts';
import { agencyHolds, migrationSuite, startAcrossCut, whereNow } from './support/start-across-cut.ts';
import { plainFacts } from './support/centre-facts.ts';

const CENTRE = 'mac-centre';
const SENDERS = ['xa-border-police', 'xb-police', 'xa-coast-guard'];
/** Old-format facts per test: the scan is that many direct gets, the moves twice that many writes; the cut lands part-way. */
const OLD = 24;

const facts = plainFacts;

describe('the centre\'s start-up facts migration across a connection cut (issue 16)', () => {
  const suite = migrationSuite({ agency: CENTRE, name: 'centre-migrate-cut', kvName: 'correlations' });

  /** Write `OLD` facts under their old key `facts.<id>` (as the pre-(sender, id) centre did); their (sender, id). */
  async function seedOldFacts(series: number): Promise<MessageFacts[]> {
    const kv = await suite.kv();
    const seeded: MessageFacts[] = [];
    for (let i = 0; i < OLD; i++) {
      const f = facts(SENDERS[i % SENDERS.length]!, `0190f0a0-0000-7000-8${series}00-${String(i).padStart(12, '0')}`);
      await kv.put(`facts.${f.messageId}`, new TextEncoder().encode(JSON.stringify(f)));
      seeded.push(f);
    }
    return seeded;
  }

  /** Which seeded facts sit where now: at their (sender, id) key, and still at their old key. */
  const whereNowOf = async (seeded: MessageFacts[]) =>
    await whereNow(await agencyHolds(suite.seeder().nc, suite.bucket()), seeded.map((f) => ({ from: `facts.${f.messageId}`, to: `facts.${f.agency}.${f.messageId}` })));

  /** Start the centre through a link cut right after its `nth` publish `matches` accepts (see startAcrossCut). */
  const startCentreAcrossCut = async (matches: (subject: string) => boolean, nth: number) =>
    await startAcrossCut(suite.fed(), CENTRE, 'centre-migrate-cut', { matches, nth }, async (client, logger) => await startCentre({ client, reportEveryMs: 0, logger }));

  it('a cut part-way through the scan of old facts: the start succeeds once reconnected, every old entry moved', async () => {
    const seeded = await seedOldFacts(1);
    // Direct gets of the bucket's stream: the migration's scan is the start's first reader of the bucket.
    const { start } = await startCentreAcrossCut((subject) => subject.includes(`DIRECT.GET.KV_${suite.bucket()}`), 8);
    expect(start, 'the centre started across the cut (the lost direct get made again at the reconnect)').toBe('started');
    expect(await whereNowOf(seeded), 'every old facts entry at its (sender, id) key, none left at the old one').toEqual({ moved: OLD, old: 0 });
  }, 120_000);

  it('a cut part-way through the moves (creates and deletes): the start succeeds once reconnected, every old entry moved', async () => {
    const seeded = await seedOldFacts(2);
    // Writes to the facts keys: the creates at (sender, id) and the deletes of the old keys, interleaved.
    const { start } = await startCentreAcrossCut((subject) => subject.includes(`$KV.${suite.bucket()}.facts.`), 7);
    expect(start, 'the centre started across the cut (the lost write made again at the reconnect)').toBe('started');
    expect(await whereNowOf(seeded), 'every old facts entry at its (sender, id) key, none left at the old one').toEqual({ moved: OLD, old: 0 });
  }, 120_000);
});
