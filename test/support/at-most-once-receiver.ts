/**
 * A receiving agency as a child process, for the crash tests (test/at-most-once.test.ts): consumes
 * one type through the SDK and appends every handled message (`<sender> <id>`) to a file with
 * appendFileSync, so the record of what the handler saw survives a SIGKILL of this process.
 *
 *   node test/support/at-most-once-receiver.ts AGENCY_DIR OUT_FILE TYPE [--no-record] [--slow-ms N]
 *
 * Prints `ready` once consuming. `--no-record` runs without the durable handled record (to show the
 * crash tests fail without it); `--slow-ms` makes each handler take that long (a kill then lands
 * between handler and ack more often). SIGTERM closes the client gracefully.
 */
import { appendFileSync } from 'node:fs';
import { LiaisonClient } from '../../services/sdk/client/client.ts';

const [agencyDir, out, type, ...flags] = process.argv.slice(2);
if (!agencyDir || !out || !type) {
  console.error('usage: at-most-once-receiver.ts AGENCY_DIR OUT_FILE TYPE [--no-record] [--slow-ms N]');
  process.exit(2);
}
const slowIdx = flags.indexOf('--slow-ms');
const slowMs = slowIdx >= 0 ? Number(flags[slowIdx + 1]) : 0;
const client = await LiaisonClient.connect({ agencyDir, atMostOnce: !flags.includes('--no-record') });
await client.consume(
  (m) => {
    appendFileSync(out, `${m.header.sender} ${m.header.id}\n`);
    if (slowMs > 0) return new Promise((r) => setTimeout(r, slowMs));
  },
  { types: [type] },
);
console.log('ready');
process.once('SIGTERM', () => {
  void client.close().finally(() => process.exit(0));
});
