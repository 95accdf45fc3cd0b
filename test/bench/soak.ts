/**
 * `npm run soak -- [--minutes N] [--rate R] [--above-rate A] [--check-rate C] …` — the soak benchmark (issue 13):
 * a whole federation on loopback, every part its own process started from the real CLI — the exchange (`exchange
 * up`, TLS, its nats-server), two ¶16 registry replicas, the case registry, the multiagency centre — and four
 * agency clients (test/bench/soak/agency-process.ts) offering DocumentReports, broadcast IntelligenceReports,
 * CaseReferrals and document checks. Two phases of `minutes / 2` each: below capacity at R msg/s, then above at A
 * msg/s; then a bounded drain. Every few seconds: RSS of every process (VmRSS), backlog per receiver (its durable
 * consumers' pending + unacknowledged, as the exchange administrator sees them), end-to-end (created_at → agency
 * handler) and check latencies. At the end: per phase the RSS slope of each process (MB/min, least squares over the
 * phase's second half) and the backlog trend; lost, handled twice, dead-lettered; a JSON file of every sample.
 * Bounded: every child is stopped by PID at the end, on SIGINT/SIGTERM of the soak, on error, and past an overall
 * deadline. Exit 0 when it ran (figures are reported, not asserted), 1 on an error, 2 on bad flags.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLiaisonError } from '../../services/sdk/errors.ts';
import { accountClients, accountService, stopStats, type ServiceAccount } from './soak/accounting.ts';
import { startClients, stopClients, type AgencyClient } from './soak/clients.ts';
import { parseSoakFlags, type SoakFlags } from './soak/flags.ts';
import { TRACKED_TYPES, type PhasePlan } from './soak/plan.ts';
import { ProcessGroup, type Launched } from './soak/processes.ts';
import { phaseFigures, renderReport, type SoakResult, type SoakSample } from './soak/report.ts';
import { ExchangeWatch, sampleRss, type Backlog } from './soak/samplers.ts';
import { startFederation, startServices } from './soak/setup.ts';
import { summarise } from './soak/stats.ts';

/** Time the agency clients get to start before the load begins. */
const LEAD_IN_MS = 20_000;
/** Setup and teardown, beyond the load and the drain, before the overall deadline ends the soak. */
const SETUP_MS = 10 * 60_000;

/** The soak's working directory (trust dir, agency dirs, JetStream store): removed at the end, also on a signal. */
let workDir: string | undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (s: string) => process.stderr.write(`soak: ${s}\n`);

/** `agency` or `agency rK` from a consumer `agency__Type__scope[__rK]`. */
const receiverOf = (consumer: string) => {
  const [agency, , , r] = consumer.split('__');
  return r ? `${agency} ${r}` : agency!;
};
const typeOf = (consumer: string) => consumer.split('__')[1] ?? '';

function byReceiver(backlog: Record<string, Backlog>, only?: (type: string) => boolean): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, b] of Object.entries(backlog)) {
    const consumer = key.slice(key.indexOf('/') + 1);
    if (only && !only(typeOf(consumer))) continue;
    const r = receiverOf(consumer);
    out[r] = (out[r] ?? 0) + b.pending + b.ackPending;
  }
  return out;
}

function phasesOf(f: SoakFlags): PhasePlan[] {
  const total = Math.round(f.minutes * 60);
  if (f.aboveRate <= 0) return [{ name: 'below', seconds: total, rate: f.rate, checkRate: f.checkRate }];
  const half = Math.round(total / 2);
  return [
    { name: 'below', seconds: half, rate: f.rate, checkRate: f.checkRate },
    { name: 'above', seconds: total - half, rate: f.aboveRate, checkRate: f.checkRate },
  ];
}

/** The latencies the agency clients reported in samples of one phase. */
function latenciesOf(clients: readonly AgencyClient[], phase: string) {
  const out = { e2e: [] as number[], checks: [] as number[], checkFailed: 0 };
  for (const c of clients)
    for (const s of c.samples)
      if (s.phase === phase) {
        out.e2e.push(...s.e2e);
        out.checks.push(...s.checks);
        out.checkFailed += s.checkFailed;
      }
  return out;
}

async function soak(f: SoakFlags, group: ProcessGroup): Promise<SoakResult> {
  const work = await mkdtemp(join(tmpdir(), 'liaison-soak-'));
  workDir = work;
  try {
    log(`federation in ${work}`);
    const fed = await startFederation(group, work);
    const watch = await ExchangeWatch.open(fed.trustDir, fed.url);
    try {
      const services = await startServices(group, fed);
      const phases = phasesOf(f);
      const startAt = Date.now() + LEAD_IN_MS;
      const clients = await startClients(group, fed, work, { phases, startAt, sampleEveryMs: f.sampleSeconds * 1000 });
      log(`every process up (${group.processes.length} PIDs); load from ${new Date(startAt).toISOString()}: ${phases.map((p) => `${p.name} ${p.seconds} s at ${p.rate} msg/s + ${p.checkRate} checks/s`).join(', ')}`);
      const loadEnd = startAt + phases.reduce((a, p) => a + p.seconds, 0) * 1000;
      const samples: SoakSample[] = [];
      const seen = new Map<string, number>();
      const phaseAt = (t: number) => {
        let end = 0;
        for (const p of phases) if (t < (end += p.seconds)) return p.name;
        return 'drain';
      };
      const takeSample = async () => {
        const t = Math.round((Date.now() - startAt) / 100) / 10;
        const fresh = clients.flatMap((c) => {
          const from = seen.get(c.id) ?? 0;
          seen.set(c.id, c.samples.length);
          return c.samples.slice(from);
        });
        const backlog = await watch.backlog();
        const s: SoakSample = {
          t,
          phase: phaseAt(t),
          rss: await sampleRss(group.processes),
          backlog: byReceiver(backlog),
          consumers: Object.fromEntries(
            Object.entries(backlog)
              .filter(([, b]) => b.pending + b.ackPending > 0)
              .map(([k, b]) => [k, `${b.pending} + ${b.ackPending} (${b.redelivered})`]),
          ),
          e2e: summarise(fresh.flatMap((x) => x.e2e)),
          checks: summarise(fresh.flatMap((x) => x.checks)),
          checkFailed: fresh.reduce((a, x) => a + x.checkFailed, 0),
        };
        samples.push(s);
        const total = Object.values(s.backlog).reduce((a, b) => a + b, 0);
        log(`t=${s.t}s ${s.phase}: backlog ${total}, e2e p50/p99 ${s.e2e.p50}/${s.e2e.p99} ms, checks p50/p99 ${s.checks.p50}/${s.checks.p99} ms, RSS ${Object.entries(s.rss).map(([n, v]) => `${n} ${v}`).join(', ')}`);
        return backlog;
      };
      const dead = (): Launched | undefined => services.find((l) => l.child?.exitCode !== null || l.child?.signalCode !== null);
      // Samples on a fixed schedule (a slow sample does not stretch the interval).
      let tick = 0;
      const nextTick = () => sleep(Math.max(0, startAt + ++tick * f.sampleSeconds * 1000 - Date.now()));
      while (Date.now() < loadEnd || !clients.every((c) => c.sentAll)) {
        await nextTick();
        await takeSample();
        const d = dead();
        if (d) throw new Error(`soak: ${d.name} exited during the load:\n${d.tail()}`);
        if (Date.now() > loadEnd + 120_000) throw new Error('soak: the agency clients did not finish sending within 2 min of the load’s end');
      }
      // Drain: until the tracked types' backlog is zero, or the drain bound has passed and the agency clients (fast
      // receivers) have emptied theirs, so that what they did not handle is lost, not waiting; at most 2 min more.
      const drainStart = Date.now();
      let tracked = Infinity;
      for (;;) {
        const b = byReceiver(await takeSample(), (t) => TRACKED_TYPES.has(t));
        tracked = Object.values(b).reduce((a, x) => a + x, 0);
        const clientsLeft = clients.reduce((a, c) => a + (b[c.id] ?? 0), 0);
        const waited = Date.now() - drainStart;
        if (tracked === 0 || (waited >= f.drainSeconds * 1000 && clientsLeft === 0) || waited >= f.drainSeconds * 1000 + 120_000) break;
        await nextTick();
      }
      const drain = { seconds: Math.round((Date.now() - drainStart) / 1000), backlogLeft: Number.isFinite(tracked) ? tracked : -1 };
      // Every receiver stopped first, then the backlog read: what is pending then is neither handled nor lost.
      const [stops, results] = await Promise.all([Promise.all(services.map((s) => group.stop(s))), stopClients(group, clients)]);
      const atStop = await watch.backlog();
      const quarantine = await watch.quarantine();
      const quarantined = await watch.quarantined();
      stops.push(await group.stop(fed.exchange, 15_000));
      for (const [i, st] of stops.entries()) if (st.code !== 0 && services[i]) log(`${st.name} exited ${st.code ?? st.signal} after ${st.ms} ms: ${services[i].tail().trim().split('\n').slice(-2).join(' | ').slice(0, 600)}`);

      const clientBacklog = Object.entries(byReceiver(atStop, (t) => TRACKED_TYPES.has(t)))
        .filter(([r]) => clients.some((c) => c.id === r))
        .reduce((a, [, n]) => a + n, 0);
      const clientAccount = accountClients(results, clientBacklog, quarantined);
      const stats = (name: string, re: RegExp) => stopStats(services.find((s) => s.name === name)!.tail(), re);
      const backlogOf = (receiver: string, types: string[]) =>
        Object.entries(atStop)
          .filter(([k]) => {
            const consumer = k.slice(k.indexOf('/') + 1);
            return receiverOf(consumer) === receiver && types.includes(typeOf(consumer));
          })
          .reduce((a, [, b]) => a + b.pending + b.ackPending, 0);
      const docs = clientAccount.sent.DocumentReport ?? 0;
      const intel = clientAccount.sent.IntelligenceReport ?? 0;
      const referrals = clientAccount.sent.CaseReferral ?? 0;
      const r1 = stats('registry r1', /registry stopped/);
      const r2 = stats('registry r2', /registry stopped/);
      const wf = stats('case registry', /case registry stopped/);
      const centre = stats('centre', /centre stopped/);
      const hitNotices = (r1?.hitNotices ?? 0) + (r2?.hitNotices ?? 0);
      const serviceAccounts: ServiceAccount[] = [
        accountService('registry r1', 'DocumentReports applied', docs, r1?.reports, backlogOf('xc-ncb', ['DocumentReport'])),
        accountService('registry r2', 'DocumentReports applied', docs, r2?.reports, backlogOf('xc-ncb r2', ['DocumentReport'])),
        accountService('case registry', 'CaseReferrals opened as cases', referrals, wf?.opened, backlogOf('mac-cases', ['CaseReferral'])),
        accountService('centre', 'DocumentReports + IntelligenceReports + hit notices processed', docs + intel + hitNotices, centre?.processed, backlogOf('mac-centre', ['DocumentReport', 'IntelligenceReport', 'DocumentHitNotice'])),
      ];
      const checks = results.reduce((a, r) => ({ answered: a.answered + r.checks.answered, failed: a.failed + r.checks.failed, hits: a.hits + r.checks.hits }), { answered: 0, failed: 0, hits: 0 });
      let from = 0;
      const phaseFigs = phases.map((p) => {
        const fig = phaseFigures(p.name, from, from + p.seconds, samples, latenciesOf(clients, p.name));
        from += p.seconds;
        return fig;
      });
      // The drain: no new load, the backlog going down (its latencies are the age of what waited).
      phaseFigs.push(phaseFigures('drain', from, Infinity, samples, latenciesOf(clients, 'drain')));
      return {
        flags: { ...f },
        phases: phaseFigs,
        clients: clientAccount,
        services: serviceAccounts,
        checks,
        deadLettered: Object.values(quarantine).reduce((a, q) => a + q.deadLetter, 0),
        quarantine,
        stops: stops.map((s) => ({ name: s.name, code: s.code, signal: s.signal, ms: s.ms })),
        drain,
        samples,
      };
    } finally {
      await watch.close().catch(() => undefined);
    }
  } finally {
    group.killAll();
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Remove the working directory, once the processes using it were killed (best effort: a dying nats-server may still write). */
function removeWork(): void {
  if (!workDir) return;
  try {
    rmSync(workDir, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    log(`could not remove ${workDir}`);
  }
}

async function main(): Promise<number> {
  let f: SoakFlags;
  try {
    f = parseSoakFlags(process.argv.slice(2));
  } catch (err) {
    log(isLiaisonError(err) ? err.toLine() : String(err));
    return 2;
  }
  const group = new ProcessGroup();
  // Every child goes with the soak: at exit, on a signal, past the overall deadline.
  process.on('exit', () => group.killAll());
  for (const s of ['SIGINT', 'SIGTERM'] as const)
    process.once(s, () => {
      log(`${s}: stopping every process`);
      group.killAll();
      removeWork();
      process.exit(130);
    });
  const deadline = setTimeout(
    () => {
      log('overall deadline passed: stopping every process');
      group.killAll();
      removeWork();
      process.exit(1);
    },
    SETUP_MS + (f.minutes * 60 + f.drainSeconds + 120) * 1000,
  );
  deadline.unref();
  const result = await soak(f, group);
  await writeFile(f.out, JSON.stringify(result, null, 1));
  process.stdout.write(`${renderReport(result)}\nsamples and figures: ${f.out}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
