/**
 * The case registry's start-up alias migration across a connection cut (issue 16): `migrateCaseAliases` scans the case
 * bucket for aliases still under their old key (`alias.<id>`) one direct get at a time, reads the case each names (its
 * sender is the actor of the step that applied the message), then moves it (a create, a delete). The registry's
 * connection runs through a TCP link cut right after the nth request of one of those three kinds (its answer dropped),
 * reconnects refused a while (test/support/start-across-cut.ts). The start must succeed: the request whose answer was
 * lost is made again at the reconnect (the migration's ReadGate), never left to fail the start after nats.js's timeout,
 * nor a case read lost at the drop taken for a case not there (its alias left unmoved); every old alias ends at its
 * (sender, id) key, none left at the old one.
 */
import { describe, expect, it } from 'vitest';
import type { CaseRecord } from '../services/workflows/model.ts';
import { startWorkflows } from '../services/workflows/service.ts';
import { agencyHolds, migrationSuite, startAcrossCut, whereNow } from './support/start-across-cut.ts';
import { workflowPolicyText } from './support/workflows.ts';

const REGISTRY = 'mac-cases';
const SENDERS = ['xc-training', 'xb-police', 'xa-border-police'];
/** Old-format aliases per test: the scan is that many direct gets, then a case read and two writes each; the cut lands part-way. */
const OLD = 24;

/** A closed case (nothing for the tick) whose one step applied `sender`'s message `messageId`. */
const closedCase = (ref: string, sender: string, messageId: string): CaseRecord => ({
  ref,
  workflow: 'training-enrolment',
  kind: 'TrainingOffer',
  state: 'closed',
  requester: sender,
  requested: sender,
  participants: [sender],
  externalRef: '',
  openedAt: Date.now(),
  updatedAt: Date.now(),
  data: {},
  items: [],
  timeline: [{ messageId, messageType: 'TrainingOffer', transition: 'open', from: '', to: 'closed', actor: sender, signedBy: sender, sentAt: Date.now(), appliedAt: Date.now(), note: '' }],
  deadlines: [],
  applied: [messageId],
  supervisors: [],
  outbox: [],
});

/** One seeded alias: its old key, and the (sender, id) key it must move to. */
interface SeededAlias {
  from: string;
  to: string;
}

describe('the case registry\'s start-up alias migration across a connection cut (issue 16)', () => {
  const suite = migrationSuite({ agency: REGISTRY, name: 'aliases-migrate-cut', kvName: 'cases', policyText: workflowPolicyText });
  const bucket = () => suite.bucket();
  const whereNowOf = async (seeded: SeededAlias[]) => await whereNow(await agencyHolds(suite.seeder().nc, bucket()), seeded);

  /** Write `OLD` cases (keys `case-mig-<series>-<i>`) and an alias of each under its old key `alias.<id>`, as the pre-(sender, id) registry did. */
  async function seedOldAliases(series: number): Promise<SeededAlias[]> {
    const kv = await suite.kv();
    const seeded: SeededAlias[] = [];
    for (let i = 0; i < OLD; i++) {
      const sender = SENDERS[i % SENDERS.length]!;
      const id = `0190f0a0-0000-7000-8${series}00-${String(i).padStart(12, '0')}`;
      const key = `case-mig-${series}-${i}`;
      await kv.put(key, new TextEncoder().encode(JSON.stringify(closedCase(key, sender, id))));
      await kv.put(`alias.${id}`, new TextEncoder().encode(key));
      seeded.push({ from: `alias.${id}`, to: `alias.${sender}.${id}` });
    }
    return seeded;
  }

  /** Start the registry through a link cut right after its `nth` publish `matches` accepts (see startAcrossCut). */
  const startRegistryAcrossCut = async (matches: (subject: string) => boolean, nth: number) =>
    await startAcrossCut(suite.fed(), REGISTRY, 'aliases-migrate-cut', { matches, nth }, async (client, logger) => await startWorkflows({ client, tickMs: 0, logger }));

  it('a cut part-way through the scan of old aliases: the start succeeds once reconnected, every old alias moved', async () => {
    const seeded = await seedOldAliases(1);
    // Direct gets of the bucket's stream: the migration's scan is the start's first reader of the bucket.
    const { start } = await startRegistryAcrossCut((subject) => subject.includes(`DIRECT.GET.KV_${bucket()}`), 8);
    expect(start, 'the registry started across the cut (the lost direct get made again at the reconnect)').toBe('started');
    expect(await whereNowOf(seeded), 'every old alias at its (sender, id) key, none left at the old one').toEqual({ moved: OLD, old: 0 });
  }, 120_000);

  it('a cut at a read of the case an alias names: the start succeeds once reconnected, that alias moved too', async () => {
    const seeded = await seedOldAliases(2);
    // The direct get of one case's last entry (by subject), made to read the alias's sender.
    const { start } = await startRegistryAcrossCut((subject) => subject.includes(`DIRECT.GET.KV_${bucket()}.$KV.${bucket()}.case-mig-2-`), 5);
    expect(start, 'the registry started across the cut').toBe('started');
    expect(await whereNowOf(seeded), 'every old alias at its (sender, id) key (the lost case read made again), none left at the old one').toEqual({ moved: OLD, old: 0 });
  }, 120_000);

  it('a cut part-way through the moves (creates and deletes): the start succeeds once reconnected, every old alias moved', async () => {
    const seeded = await seedOldAliases(3);
    // Writes to the alias keys: the creates at (sender, id) and the deletes of the old keys, interleaved.
    const { start } = await startRegistryAcrossCut((subject) => subject.includes(`$KV.${bucket()}.alias.`), 7);
    expect(start, 'the registry started across the cut (the lost write made again at the reconnect)').toBe('started');
    expect(await whereNowOf(seeded), 'every old alias at its (sender, id) key, none left at the old one').toEqual({ moved: OLD, old: 0 });
  }, 120_000);
});
