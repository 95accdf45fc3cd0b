import { readFile } from 'node:fs/promises';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { quarantineCounts, readQuarantine } from '../../../services/exchange/quarantine-read.ts';
import type { QuarantineCounts } from '../../../services/sdk/client/quarantine-entry.ts';
import { trustDirTls } from '../../../services/sdk/client/nats-tls.ts';
import { readPrivateFile, trustPaths } from '../../../services/trust/index.ts';
import { alive, type Launched } from './processes.ts';

/** Resident set size of `pid` in MB (VmRSS of /proc/PID/status), undefined once it is gone. */
export async function rssMb(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Math.round((Number(kb) / 1024) * 10) / 10;
  } catch {
    return undefined;
  }
}

/** RSS in MB of every process of the soak still running, by name. */
export async function sampleRss(processes: readonly Launched[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const l of processes) {
    if (!alive(l)) continue;
    const mb = await rssMb(l.pid);
    if (mb !== undefined) out[l.name] = mb;
  }
  return out;
}

/** One consumer's backlog: stored but not yet delivered (`pending`) and delivered but not yet acknowledged (`ackPending`). */
export interface Backlog {
  pending: number;
  ackPending: number;
  redelivered: number;
}

/** The exchange administrator's view of the consumers: backlog per consumer, dead letters per agency. */
export class ExchangeWatch {
  readonly #nc: NatsConnection;
  readonly #jsm: JetStreamManager;
  private constructor(nc: NatsConnection, jsm: JetStreamManager) {
    this.#nc = nc;
    this.#jsm = jsm;
  }

  /** Connect as the exchange administrator (the trust dir's admin creds, over the federation's TLS). */
  static async open(trustDir: string, url: string): Promise<ExchangeWatch> {
    const nc = await connect({ servers: url, ...(await trustDirTls(trustDir, url)), authenticator: credsAuthenticator(new Uint8Array(await readPrivateFile(trustPaths(trustDir).adminCreds))), name: 'liaison-soak-watch' });
    return new ExchangeWatch(nc, await jetstreamManager(nc));
  }

  /** Backlog of every durable consumer, `stream/consumer` → figures (the ordered, ephemeral ones left out). */
  async backlog(): Promise<Record<string, Backlog>> {
    const out: Record<string, Backlog> = {};
    for await (const s of this.#jsm.streams.list()) {
      for await (const c of this.#jsm.consumers.list(s.config.name)) {
        if (!c.config.durable_name) continue;
        out[`${s.config.name}/${c.name}`] = { pending: c.num_pending, ackPending: c.num_ack_pending, redelivered: c.num_redelivered };
      }
    }
    return out;
  }

  /** Each agency's quarantine in figures (dead letters, in doubt, other refusals, replayed). */
  async quarantine(): Promise<Record<string, QuarantineCounts>> {
    return await quarantineCounts(this.#nc);
  }

  /** Every quarantined copy, as `agency sender id` → its refusal code (ERR_DEAD_LETTER, in doubt, …). */
  async quarantined(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const c of await readQuarantine(this.#nc)) if (c.sender && c.id && !c.replayed) out.set(`${c.agency} ${c.sender} ${c.id}`, c.code);
    return out;
  }

  async close(): Promise<void> {
    await this.#nc.close();
  }
}
