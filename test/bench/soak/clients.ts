import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProcessGroup, Launched } from './processes.ts';
import type { AgencyJob, AgencyResult, AgencySample, Offer, PhasePlan } from './plan.ts';
import type { SoakFederation } from './setup.ts';

/** Where referrals go: the protection NGO, itself one of the soak's agency clients. */
const NGO = 'xa-ngo-harbour';

/** What each agency client offers (its policy roles allow exactly these), and whether it checks documents. */
export const AGENCY_LOAD: Record<string, { country: string; offers: Offer[]; checks: boolean }> = {
  'xa-border-police': {
    country: 'XAA',
    offers: [
      { type: 'DocumentReport', weight: 1 },
      { type: 'IntelligenceReport', weight: 1 },
      { type: 'CaseReferral', weight: 1, to: NGO },
    ],
    checks: true,
  },
  'xb-police': {
    country: 'XBB',
    offers: [
      { type: 'DocumentReport', weight: 1 },
      { type: 'IntelligenceReport', weight: 1 },
      { type: 'CaseReferral', weight: 1, to: NGO },
    ],
    checks: true,
  },
  'xa-coast-guard': {
    country: 'XAA',
    offers: [
      { type: 'IntelligenceReport', weight: 1 },
      { type: 'CaseReferral', weight: 1, to: NGO },
    ],
    checks: true,
  },
  // Receives the referrals (and the case registry's notices); sends nothing.
  [NGO]: { country: 'XAA', offers: [], checks: false },
};

/**
 * Which agency clients should handle a copy of `type` sent by `sender` (from the example policy): document
 * reports go to the border police (broadcast, personal tier), intelligence broadcasts to the border police and
 * coast guards, referrals to the NGO they name. The sender itself never gets its own broadcast.
 */
export function expectedClientRecipients(type: string, sender: string): string[] {
  const borderPolice = ['xa-border-police', 'xb-police'];
  if (type === 'DocumentReport') return borderPolice.filter((a) => a !== sender);
  if (type === 'IntelligenceReport') return [...borderPolice, 'xa-coast-guard'].filter((a) => a !== sender);
  if (type === 'CaseReferral') return [NGO];
  return [];
}

/** A running agency client with the samples it printed. */
export interface AgencyClient {
  id: string;
  process: Launched;
  out: string;
  samples: AgencySample[];
  sentAll: boolean;
}

/** Start every agency client; their load begins at `startAt` and follows `phases` (rates are shares of the totals). */
export async function startClients(group: ProcessGroup, fed: SoakFederation, work: string, o: { phases: PhasePlan[]; startAt: number; sampleEveryMs: number }): Promise<AgencyClient[]> {
  const ids = Object.keys(AGENCY_LOAD);
  const senders = ids.filter((id) => AGENCY_LOAD[id]!.offers.length > 0).length;
  const checkers = ids.filter((id) => AGENCY_LOAD[id]!.checks).length;
  const clients: AgencyClient[] = [];
  for (const id of ids) {
    const load = AGENCY_LOAD[id]!;
    const job: AgencyJob = {
      id,
      agencyDir: fed.agencyDirs[id]!,
      server: fed.url,
      country: load.country,
      offers: load.offers,
      phases: o.phases.map((p) => ({ ...p, rate: load.offers.length ? p.rate / senders : 0, checkRate: load.checks ? p.checkRate / checkers : 0 })),
      startAt: o.startAt,
      out: join(work, `agency-${id}.json`),
      sampleEveryMs: o.sampleEveryMs,
    };
    const c: AgencyClient = { id, process: undefined as unknown as Launched, out: job.out, samples: [], sentAll: false };
    c.process = group.start(`agency ${id}`, [JSON.stringify(job)], {
      script: 'test/bench/soak/agency-process.ts',
      onLine: (line) => {
        if (!line.startsWith('{"soak"')) return;
        const m = JSON.parse(line) as { soak: string };
        if (m.soak === 'sample') c.samples.push(m as AgencySample);
        else if (m.soak === 'sent-all') c.sentAll = true;
      },
    });
    clients.push(c);
  }
  for (const c of clients) await group.waitFor(c.process, /"soak":"ready"/, 60_000);
  return clients;
}

/** Stop each client (SIGTERM: it writes what it sent and handled) and read its result. */
export async function stopClients(group: ProcessGroup, clients: AgencyClient[]): Promise<AgencyResult[]> {
  const stops = await Promise.all(clients.map((c) => group.stop(c.process, 15_000)));
  const results: AgencyResult[] = [];
  for (const [i, c] of clients.entries()) {
    const text = await readFile(c.out, 'utf8').catch(() => undefined);
    if (text === undefined) throw new Error(`soak: agency ${c.id} wrote no result (exit ${stops[i]!.code ?? stops[i]!.signal}):\n${c.process.tail()}`);
    results.push(JSON.parse(text) as AgencyResult);
  }
  return results;
}
