import { describe, expect, it } from 'vitest';
import { Progress } from '../services/cli/progress.ts';

/** A stream that records what was written, terminal or not. */
const stream = (isTTY: boolean) => {
  const writes: string[] = [];
  return { isTTY, writes, write: (t: string) => writes.push(t) };
};

describe('progress on long work: one redrawn line on a terminal, nothing in a pipe', () => {
  it('on a terminal: the first update shows, updates within the period are skipped, the next one after it shows, done clears', () => {
    let now = 0;
    const out = stream(true);
    const p = new Progress(out, { everyMs: 250, now: () => now });
    p.update('1 row');
    now = 249;
    p.update('2 rows');
    now = 250;
    p.update('3 rows');
    p.done();
    expect(out.writes).toEqual(['\r\x1b[2K1 row', '\r\x1b[2K3 rows', '\r\x1b[2K']);
  });

  it('not a terminal (a pipe, a file, CI): nothing is written, not even the clearing', () => {
    const out = stream(false);
    const p = new Progress(out, { now: () => 0 });
    p.update('1 row');
    p.done();
    expect(out.writes).toEqual([]);
  });
});
