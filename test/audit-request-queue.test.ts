import { describe, expect, it } from 'vitest';
import { RequestQueue, type QueuedItem, type SeenRequest } from '../services/audit/request-queue.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';

const req = (agency: string, i: number, bytes = 10): SeenRequest => ({
  subject: `liaison.v1.svc.documents.DocumentCheckRequest.${agency}`,
  data: new Uint8Array(bytes),
  header: () => undefined,
  at: `2026-01-01T00:00:${String(i).padStart(2, '0')}.000Z`,
});
/** Take the next item and settle it, as the audit's pump does once it is appended. */
const next = (q: RequestQueue): QueuedItem | undefined => {
  const item = q.take();
  if (item) q.done(item);
  return item;
};
const label = (item: QueuedItem | undefined) => (item === undefined ? 'none' : item.request ? item.request.at.slice(17, 19) : `missed ${item.missed.count} ${item.missed.from.slice(17, 19)}–${item.missed.to.slice(17, 19)}`);

describe('audit RequestQueue: bounded, in arrival order, the requests it does not hold counted in their place (issue 16)', () => {
  it('beyond the bound requests are counted, not held; the count is queued before the next request held, so the ledger keeps arrival order', () => {
    const warned: number[] = [];
    const q = new RequestQueue({ maxRequests: 4, onOverflow: (o) => warned.push(o.held) });
    expect([1, 2, 3, 4, 5, 6].map((i) => q.offer(req('xb-police', i)))).toEqual([true, true, true, true, false, false]);
    expect(label(next(q))).toBe('01');
    // Room for one: not enough for the marker and the request after it.
    expect(q.offer(req('xa-border-police', 7))).toBe(false);
    expect(label(next(q))).toBe('02');
    expect(q.offer(req('xb-police', 8))).toBe(true);
    expect(q.stats()).toMatchObject({ highWater: 4, missed: 3, episodes: 1 });
    expect(warned).toEqual([4]);
    const order: string[] = [];
    for (let item = next(q); item; item = next(q)) order.push(label(item));
    expect(order).toEqual(['03', '04', 'missed 3 05–07', '08']);
    expect(q.empty).toBe(true);
  });

  it('the count says who asked for what: per (service, requester), first and last arrival', () => {
    const q = new RequestQueue({ maxRequests: 2 });
    for (const [a, i] of [['xb-police', 1], ['xb-police', 2], ['xb-police', 3], ['xa-border-police', 4], ['xb-police', 5]] as const) q.offer(req(a, i));
    next(q);
    next(q);
    const m = next(q)?.missed;
    expect(m).toMatchObject({
      kind: 'queries-missed',
      count: 3,
      reasons: ['queue-full'],
      missed: [
        { service: 'documents.DocumentCheckRequest', requester: 'xa-border-police', count: 1, from: req('', 4).at, to: req('', 4).at },
        { service: 'documents.DocumentCheckRequest', requester: 'xb-police', count: 2, from: req('', 3).at, to: req('', 5).at },
      ],
    });
    expect(next(q)).toBeUndefined();
  });

  it('a request taken is held until done: being verified and appended, it still counts against the bound', () => {
    const q = new RequestQueue({ maxRequests: 2 });
    q.offer(req('xb-police', 1));
    q.offer(req('xb-police', 2));
    const a = q.take()!;
    const b = q.take()!;
    expect(q.offer(req('xb-police', 3))).toBe(false);
    expect(q.stats()).toMatchObject({ held: 2, highWater: 2 });
    q.done(a);
    q.done(b);
    expect(q.stats().held).toBe(0);
    expect(label(next(q))).toBe('missed 1 03–03');
    expect(q.empty).toBe(true);
  });

  it('a burst that ends while the queue is full: the count is taken once the held requests are', () => {
    const q = new RequestQueue({ maxRequests: 2 });
    for (let i = 1; i <= 5; i++) q.offer(req('xb-police', i));
    expect([label(next(q)), label(next(q)), label(next(q)), label(next(q))]).toEqual(['01', '02', 'missed 3 03–05', 'none']);
  });

  it('the byte bound holds too, and a count whose entry failed is counted again', () => {
    const size = 100 + req('xb-police', 1).subject.length;
    const q = new RequestQueue({ maxRequests: 100, maxBytes: 2 * size });
    expect([1, 2, 3].map((i) => q.offer(req('xb-police', i, 100)))).toEqual([true, true, false]);
    expect(q.stats()).toMatchObject({ held: 2, heldBytes: 2 * size, missed: 1 });
    while (q.length) next(q);
    const m = next(q)!.missed!;
    expect(q.empty).toBe(true);
    q.restore(m);
    expect(q.empty).toBe(false);
    expect(next(q)?.missed).toMatchObject({ count: 1, reasons: ['append-failed', 'queue-full'] });
  });

  it('a bound below 2 items or 1 byte is refused with ERR_USAGE', () => {
    for (const o of [{ maxRequests: 1 }, { maxRequests: 2.5 }, { maxBytes: 0 }]) {
      let err: unknown;
      try {
        new RequestQueue(o);
      } catch (e) {
        err = e;
      }
      expect(isLiaisonError(err) && err.code === 'ERR_USAGE').toBe(true);
    }
  });
});
