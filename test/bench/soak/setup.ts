import { join } from 'node:path';
import { freePort } from '../../../services/exchange/nats-process.ts';
import { ROOT, type Launched, type ProcessGroup } from './processes.ts';

/** The example federation's policy (deploy/policies/federation.yaml): every agency the soak runs is named there. */
export const POLICY = join(ROOT, 'deploy/policies/federation.yaml');

/** The services, each an agency of the policy run by its own CLI process. */
export const SERVICE_AGENCIES = ['xc-ncb', 'mac-cases', 'mac-centre'] as const;
/** The agency clients (each its own process, test/bench/soak/agency-process.ts). */
export const CLIENT_AGENCIES = ['xa-border-police', 'xb-police', 'xa-coast-guard', 'xa-ngo-harbour'] as const;

/** A running exchange: its URL, trust dir and every agency's directory. */
export interface SoakFederation {
  url: string;
  trustDir: string;
  agencyDirs: Record<string, string>;
  exchange: Launched;
}

/** Run `liaison ...args` to its end; throws with its output unless it exits 0. */
async function runCli(group: ProcessGroup, name: string, args: string[]): Promise<void> {
  const l = group.start(name, args);
  const r = await l.exited;
  if (r.code !== 0) throw new Error(`soak: ${name} exited ${r.code ?? r.signal}:\n${l.tail()}`);
}

/**
 * A federation from the CLI, as an operator would make one: `trust init`, `exchange up` (TLS, loopback, its
 * nats-server adopted by the group so it is sampled and stopped by PID), and `trust enrol` of each agency.
 */
export async function startFederation(group: ProcessGroup, work: string): Promise<SoakFederation> {
  const trustDir = join(work, 'trust');
  await runCli(group, 'trust init', ['trust', 'init', '--dir', trustDir, '--policy', POLICY]);
  const port = await freePort();
  const exchange = group.start('exchange', ['exchange', 'up', '--dir', trustDir, '--host', '127.0.0.1', '--port', String(port), '--store', join(work, 'store')]);
  const m = await group.waitFor(exchange, /exchange up at (\S+) .*nats-server pid (\d+)/, 90_000);
  await group.waitFor(exchange, /Ctrl-C stops it/, 90_000);
  group.adopt('nats-server', Number(m[2]));
  const url = m[1]!;
  const agencyDirs: Record<string, string> = {};
  for (const id of [...SERVICE_AGENCIES, ...CLIENT_AGENCIES]) {
    agencyDirs[id] = join(work, 'agencies', id);
    await runCli(group, `enrol ${id}`, ['trust', 'enrol', '--dir', trustDir, '--agency', id, '--out', agencyDirs[id], '--server', url]);
  }
  return { url, trustDir, agencyDirs, exchange };
}

/** The services as separate CLI processes: two ¶16 registry replicas, the case registry, the multiagency centre. */
export async function startServices(group: ProcessGroup, fed: SoakFederation): Promise<Launched[]> {
  const ncb = fed.agencyDirs['xc-ncb']!;
  const services: [string, string[], RegExp][] = [
    ['registry r1', ['registry', 'up', '--as', ncb, '--snapshot-every', '60', '--stats-every', '5'], /answering DocumentCheckRequest/],
    ['registry r2', ['registry', 'up', '--as', ncb, '--replica', '2', '--snapshot-every', '60', '--stats-every', '5'], /answering DocumentCheckRequest/],
    ['case registry', ['workflows', 'up', '--as', fed.agencyDirs['mac-cases']!], /case registry up/],
    ['centre', ['centre', 'up', '--as', fed.agencyDirs['mac-centre']!, '--report-every-hours', '0'], /multiagency centre up/],
  ];
  // One at a time: four TypeScript processes starting at once on 2 cores can outlast a connect timeout.
  const started: Launched[] = [];
  for (const [name, args, ready] of services) {
    const l = group.start(name, args);
    await group.waitFor(l, ready, 90_000);
    started.push(l);
  }
  return started;
}
