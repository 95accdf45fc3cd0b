import { describe, expect, it } from 'vitest';
import { BoundedRunner } from '../services/sdk/client/bounded-runner.ts';

/** How a service runs its requests (issue 16): bounded, in arrival order, letting I/O in between rounds. */
describe('BoundedRunner', () => {
  const settle = () => new Promise((r) => setTimeout(r, 20));

  it('runs at most `concurrency` tasks at once, the rest in arrival order, and refuses beyond `maxWaiting`', async () => {
    const r = new BoundedRunner({ concurrency: 2, maxWaiting: 2 });
    const started: string[] = [];
    const gates: (() => void)[] = [];
    const task = (id: string) => () => new Promise<void>((done) => void (started.push(id), gates.push(done)));
    expect(['a', 'b', 'c', 'd', 'e'].map((id) => r.offer(task(id)))).toEqual([true, true, true, true, false]);
    await settle();
    expect(started).toEqual(['a', 'b']);
    expect({ active: r.active, waiting: r.waiting }).toEqual({ active: 2, waiting: 2 });
    gates[0]!();
    await settle();
    expect(started).toEqual(['a', 'b', 'c']);
    for (const g of gates) g();
    await settle();
    for (const g of gates) g();
    await settle();
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    expect({ active: r.active, waiting: r.waiting, highWater: r.highWater }).toEqual({ active: 0, waiting: 0, highWater: 2 });
  });

  it('a task that fails frees its slot like one that succeeds', async () => {
    const r = new BoundedRunner({ concurrency: 1, maxWaiting: 1 });
    const ran: string[] = [];
    r.offer(() => Promise.reject(new Error('refused')));
    r.offer(async () => void ran.push('next'));
    await settle();
    expect(ran).toEqual(['next']);
    expect(r.active).toBe(0);
  });

  it('synchronous tasks waiting for a slot do not chain into each other: the event loop turns (I/O, immediates) between them', async () => {
    // A request verified on the event loop is such a task. Chained in microtasks, every waiting one would run before
    // the socket is read again, and what arrived meanwhile would be seen (and admission asked) only after all of them.
    const r = new BoundedRunner({ concurrency: 1, maxWaiting: 10 });
    const order: string[] = [];
    for (const id of ['a', 'b', 'c']) r.offer(async () => void order.push(id));
    setImmediate(() => order.push('turn'));
    await settle();
    expect(order).toHaveLength(4);
    expect(order.indexOf('turn')).toBeLessThan(order.indexOf('c'));
  });
});
