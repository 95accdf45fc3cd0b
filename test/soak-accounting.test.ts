import { describe, expect, it } from 'vitest';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { accountClients, accountService, stopStats } from './bench/soak/accounting.ts';
import { parseSoakFlags } from './bench/soak/flags.ts';
import { keyOf, type AgencyResult } from './bench/soak/plan.ts';
import { slope } from './bench/soak/stats.ts';

/** An agency client's result with the given sends (all acknowledged) and receipts. */
const result = (id: string, sent: [string, AgencyResult['sent'][number]['type']][], received: Record<string, number> = {}): AgencyResult => ({
  id,
  sent: sent.map(([mid, type]) => ({ id: mid, type, at: 0, acked: true })),
  received,
  receivedTypes: {},
  checks: { answered: 0, failed: 0, hits: 0 },
});

describe('soak accounting: the figures `npm run soak` reports can show a loss, a duplicate and a leak', () => {
  it('every expected recipient handling each (sender, id) once: nothing missing, nothing twice, nothing unexpected', () => {
    const a = accountClients([
      result('xa-border-police', [['m1', 'DocumentReport'], ['m2', 'IntelligenceReport'], ['m3', 'CaseReferral']], { [keyOf('xb-police', 'n1')]: 1 }),
      result('xb-police', [['n1', 'DocumentReport']], { [keyOf('xa-border-police', 'm1')]: 1, [keyOf('xa-border-police', 'm2')]: 1 }),
      result('xa-coast-guard', [], { [keyOf('xa-border-police', 'm2')]: 1 }),
      result('xa-ngo-harbour', [], { [keyOf('xa-border-police', 'm3')]: 1 }),
    ]);
    expect(a).toMatchObject({ expectedCopies: 5, missing: 0, twice: 0, unexpected: 0, sent: { DocumentReport: 2, IntelligenceReport: 1, CaseReferral: 1 } });
  });

  it('a copy no recipient handled counts as missing, one handled three times as twice = 2, one at the wrong agency as unexpected', () => {
    const a = accountClients([
      result('xa-border-police', [['m1', 'DocumentReport'], ['m2', 'IntelligenceReport']]),
      // m1 handled three times; m2 never reached xb-police.
      result('xb-police', [], { [keyOf('xa-border-police', 'm1')]: 3 }),
      // The NGO never receives intelligence: a copy there is a leak.
      result('xa-coast-guard', [], { [keyOf('xa-border-police', 'm2')]: 1 }),
      result('xa-ngo-harbour', [], { [keyOf('xa-border-police', 'm2')]: 1 }),
    ]);
    expect(a.missing).toBe(1);
    expect(a.lost).toBe(1);
    expect(a.missingExamples).toEqual(['IntelligenceReport xa-border-police m2 → xb-police']);
    expect(a.twice).toBe(2);
    expect(a.unexpected).toBe(1);
    // The same, with one copy still waiting in the receivers' backlog when they stopped: not handled, not lost.
    expect(accountClients([result('xa-border-police', [['m1', 'DocumentReport']]), result('xb-police', [])], 1)).toMatchObject({ missing: 1, backlog: 1, lost: 0 });
    // …or put on the recipient's quarantine (in doubt): not handled, replayable, not lost; elsewhere's quarantine does not count.
    const q = new Map([[`xb-police ${keyOf('xa-border-police', 'm1')}`, 'ERR_IN_DOUBT']]);
    expect(accountClients([result('xa-border-police', [['m1', 'DocumentReport']]), result('xb-police', [])], 0, q)).toMatchObject({ missing: 1, quarantined: { ERR_IN_DOUBT: 1 }, lost: 0 });
    const elsewhere = new Map([[`xa-coast-guard ${keyOf('xa-border-police', 'm1')}`, 'ERR_IN_DOUBT']]);
    expect(accountClients([result('xa-border-police', [['m1', 'DocumentReport']]), result('xb-police', [])], 0, elsewhere)).toMatchObject({ missing: 1, lost: 1 });
  });

  it('a send the exchange did not acknowledge is not expected anywhere, but a copy of it that arrived is counted as delivered, not as a leak', () => {
    const sender = result('xa-border-police', []);
    sender.sent.push({ id: 'm9', type: 'IntelligenceReport', at: 0, acked: false });
    const a = accountClients([sender, result('xb-police', [], { [keyOf('xa-border-police', 'm9')]: 1 })]);
    expect(a).toMatchObject({ sendFailed: 1, sendFailedDelivered: 1, expectedCopies: 0, missing: 0, unexpected: 0 });
  });

  it('a service: lost = offered − handled − backlog, never below 0; handled beyond offered is extra; a missing stop line is NaN, not 0', () => {
    expect(accountService('centre', 'x', 100, 90, 10)).toMatchObject({ lost: 0, extra: 0 });
    expect(accountService('centre', 'x', 100, 85, 10)).toMatchObject({ lost: 5, extra: 0 });
    expect(accountService('centre', 'x', 100, 103, 0)).toMatchObject({ lost: 0, extra: 3 });
    expect(accountService('centre', 'x', 100, undefined, 0).handled).toBeNaN();
    expect(stopStats('x\ncentre stopped: {"processed":7}\n', /centre stopped/)).toEqual({ processed: 7 });
    expect(stopStats('centre up\n', /centre stopped/)).toBeUndefined();
  });

  it('the RSS slope is a least-squares MB/min: flat is 0, a leak of 2 MB/min is 2 whatever the noise around it', () => {
    const t = [0, 1, 2, 3, 4, 5];
    expect(slope(t, [100, 100, 100, 100, 100, 100])).toBe(0);
    expect(slope(t, [100, 103, 103, 107, 107, 111])).toBeCloseTo(2.029, 3);
    expect(slope([1], [1])).toBeNaN();
  });

  it('bad flags are ERR_USAGE naming the flag (the soak exits 2); defaults fit a 2-minute run', () => {
    for (const argv of [['--minutes', 'x'], ['--rate', '0'], ['--check-rate', '-1'], ['--minutes', ''], ['--bogus', '1'], ['extra']]) {
      let err: unknown;
      try {
        parseSoakFlags(argv);
      } catch (e) {
        err = e;
      }
      expect(isLiaisonError(err, 'ERR_USAGE'), argv.join(' ')).toBe(true);
      if (argv[0]!.startsWith('--') && argv[0] !== '--bogus') expect((err as Error).message).toContain(argv[0]);
    }
    expect(parseSoakFlags([])).toMatchObject({ minutes: 2, rate: 30, aboveRate: 150, checkRate: 10 });
    expect(parseSoakFlags(['--rate', '10', '--above-rate', '0'])).toMatchObject({ rate: 10, aboveRate: 0 });
  });
});
