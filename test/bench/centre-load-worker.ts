/**
 * The centre benchmark's offered load, sent from a worker thread (the senders' core, as in the soak's
 * separate agency processes): the mix the multiagency centre consumes — broadcast DocumentReports,
 * broadcast IntelligenceReports with vessels and routes, IntelligenceReports directed to the centre
 * with phones and names, broadcast PersonAlerts — drawn from bounded pools of values, so the same
 * document, vessel or phone recurs across agencies and the centre finds links and sends alerts.
 * Sent as fast as a window of publishes allows, or paced at `rate` msg/s.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LiaisonClient } from '../../services/sdk/client/client.ts';
import { mulberry32, type Rng } from '../support/prng.ts';

/** What the worker is asked to send. */
export interface CentreLoadJob {
  /** Agency id → its AGENCY_DIR, for every sender of the mix. */
  agencyDirs: Record<string, string>;
  url: string;
  /** The centre's agency id (recipient of the directed reports). */
  centre: string;
  count: number;
  /** Paced at this many msg/s; absent: as fast as the window allows. */
  rate?: number;
  /** Seeds the draws; also keeps ids of two runs apart (the tag goes into every body). */
  seed: number;
}

/** One message of the mix. */
export interface LoadMessage {
  from: string;
  type: string;
  body: Record<string, unknown>;
  to?: string;
}

/** Senders of the mix (their policy roles send these types). */
export const LOAD_SENDERS = ['xa-border-police', 'xb-police', 'xa-coast-guard'] as const;

const ROUTES = [
  ['XCC', 'XAA'],
  ['XZZ', 'XAA'],
  ['XCC', 'XBB'],
  ['XZZ', 'XBB'],
];
const PLACES = ['Port Zeta', 'Airport North', 'Harbour East', 'Border Crossing 7', 'Port Xandria'];

/** The `i`-th message of the mix (pools: 300 documents, 60 vessels and one hot one, 200 phones). */
export function loadMessage(rng: Rng, i: number): LoadMessage {
  const roll = rng.int(100);
  const tag = `bench ${i}`;
  if (roll < 40) {
    return {
      from: rng.pick(['xa-border-police', 'xb-police']),
      type: 'DocumentReport',
      body: {
        documentNumber: `XA${1_000_000 + rng.int(300)}`,
        issuingCountry: 'XAA',
        documentType: rng.pick(['DOCUMENT_TYPE_PASSPORT', 'DOCUMENT_TYPE_IDENTITY_CARD']),
        status: rng.pick(['DOCUMENT_STATUS_STOLEN', 'DOCUMENT_STATUS_FRAUDULENT']),
        place: rng.pick(PLACES),
        holderNationality: rng.pick(['XAA', 'XBB', 'XCC']),
        remarks: tag,
      },
    };
  }
  if (roll < 75) {
    const [origin, destination] = rng.pick(ROUTES);
    // One vessel in ten is the same notorious one: its record grows through the run, as a real hot link's does.
    const imo = rng.chance(0.1) ? 9_199_999 : 9_100_000 + rng.int(60);
    return {
      from: rng.pick(['xa-coast-guard', 'xb-police']),
      type: 'IntelligenceReport',
      body: {
        summary: `Vessel sighted heading north (${tag}).`,
        route: { origin, destination },
        modusOperandi: [rng.pick(['overcrowded fishing vessel', 'rubber dinghy', 'fees paid in cash'])],
        vessel: { name: `SEA STAR ${imo % 60}`, imoNumber: `IMO${imo}`, kind: 'fishing vessel' },
        migrantsCount: rng.range(5, 90),
        childrenCount: rng.range(0, 10),
        location: rng.pick(PLACES),
        observedAt: new Date().toISOString(),
      },
    };
  }
  if (roll < 90) {
    return {
      from: rng.pick(['xa-coast-guard', 'xb-police']),
      type: 'IntelligenceReport',
      to: 'mac-centre',
      body: {
        summary: `Coordinator phone found (${tag}).`,
        entities: [
          { kind: 'ENTITY_KIND_PHONE', value: `+3069${String(1_000_000 + rng.int(200))}`, role: 'coordinator' },
          { kind: 'ENTITY_KIND_PERSON', value: rng.pick(['Karim Tahiri', 'Omar Selim', 'Ana Petrova', 'Luis Ortega']), role: 'organiser' },
        ],
        location: rng.pick(PLACES),
      },
    };
  }
  return {
    from: 'xa-border-police',
    type: 'PersonAlert',
    body: { alertReference: `XA-PA-${i}`, subject: { name: { givenNames: 'Yusuf', familyName: `Karimov${rng.int(50)}` }, birthDate: '1979-07-01' }, requestedAction: tag },
  };
}

const WINDOW = 256;

async function run(job: CentreLoadJob): Promise<void> {
  const clients = new Map<string, LiaisonClient>();
  for (const id of LOAD_SENDERS) clients.set(id, await LiaisonClient.connect({ agencyDir: job.agencyDirs[id]!, servers: [job.url] }));
  const rng = mulberry32(job.seed);
  const inflight = new Set<Promise<unknown>>();
  const start = performance.now();
  for (let i = 0; i < job.count; i++) {
    if (job.rate) {
      const wait = start + (i * 1000) / job.rate - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const m = loadMessage(rng, job.seed * 1_000_000 + i);
    const to = m.to === 'mac-centre' ? job.centre : m.to;
    const p = clients.get(m.from)!.send(m.type, m.body, { tlp: 'GREEN', ...(to ? { to } : {}) }).finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= WINDOW) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  const seconds = (performance.now() - start) / 1000;
  for (const c of clients.values()) await c.close();
  parentPort?.postMessage({ sent: job.count, seconds });
}

if (parentPort && workerData) {
  run(workerData as CentreLoadJob).catch((err: unknown) => {
    parentPort?.postMessage({ error: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) });
  });
}
