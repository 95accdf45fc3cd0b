import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { asLiaisonError } from '../sdk/errors.ts';
import { silentLogger, type Logger } from '../sdk/logging.ts';
import type { Policy, TypeCatalog } from '../sdk/policy/index.ts';
import { applyAccountUpdate, ensureExchangeTls, listAgencyRecords, openFederation, readPrivateFile, renderServerConfig, revokeAgency, trustPaths, type RevokeResult } from '../trust/index.ts';
import { startForeignDirectories } from '../bridge/foreign-directories.ts';
import { keepHandledForApplied } from '../bridge/handled.ts';
import { serverList, trustDirTls } from '../sdk/client/nats-tls.ts';
import { federationPolicy } from './admin.ts';
import { startDirectoryService, type DirectoryService } from './directory-service.ts';
import { spawnNatsServer, type NatsProcess } from './nats-process.ts';
import { provisionExchange, type ProvisionReport } from './provision.ts';
import { provisionByName } from './provision-named.ts';
import { provisionPolicyChange } from './provision-change.ts';
import { replicateStreams } from './replicas.ts';
import { jetstreamManager } from '@nats-io/jetstream';
import { LEDGER_STREAM } from '../audit/entry.ts';
import { startReplayService } from './replay-service.ts';
import { startQuarantineService } from './quarantine-service.ts';
import { startPeekService } from './peek-service.ts';
import { startRetractService } from './retract-service.ts';
import { startAccountSync, type AccountSync } from './account-sync.ts';
import { recordEnforcedPolicy } from './enforced.ts';
import { startExchangeServiceHost, type ExchangeServiceHost } from './service-host.ts';
import { drainBy } from '../sdk/client/drain-by.ts';
import { DIRECTORY_REQUEST_SUBJECTS, PEEK_SUBJECTS, QUARANTINE_SERVICE_SUBJECTS, REPLAY_SUBJECTS, RETRACT_SUBJECTS } from '../sdk/subjects.ts';
import { startAuditService, type AuditService, type AuditServiceOptions } from '../audit/index.ts';

/** Audit ledger settings of an exchange, or `false` to run without it. */
export type ExchangeAuditOptions = false | Pick<AuditServiceOptions, 'checkpointEvery' | 'checkpointMs' | 'receiptsMs' | 'queries' | 'queryQueue'>;

/** Agencies revoked in the trust dir (they keep no consumers). */
async function revokedAgencies(trustDir: string): Promise<Set<string>> {
  return new Set((await listAgencyRecords(trustDir)).filter((r) => r.revokedAt !== undefined).map((r) => r.id));
}

/** How long after the cluster's gossip changes the account JWTs are pushed again (the new node's routes settle). */
const RESYNC_DELAY_MS = 1_000;
/** How long `stop()` of an attached exchange takes at most, its server stalled or not. */
const STOP_BOUND_MS = 20_000;
/** The end of that bound kept for draining the connections (the audit's stop ends before it). */
const CONNECTIONS_SHARE_MS = 4_000;

/**
 * On a cluster, a node that returns gets every account JWT pushed again: what was revoked or re-issued while it was
 * down holds there at once, not at the resolver's next sync. The servers' gossip (an INFO `update` to the admin's
 * connection) says the cluster changed; nats.js reports no URL as added when the node was in the configured list,
 * so any update counts.
 */
function resyncWhenNodesReturn(admin: NatsConnection, accounts: AccountSync, logger: Logger): void {
  void (async () => {
    for await (const s of admin.status()) {
      if (s.type !== 'update') continue;
      await new Promise((r) => setTimeout(r, RESYNC_DELAY_MS));
      const pushed = await accounts.resync().catch((err: unknown) => void logger.warn({ err }, 'could not push the account JWTs after a cluster change'));
      if (pushed) logger.info({ accounts: pushed.length }, 'the cluster changed: every account JWT pushed again');
    }
  })();
}

/** The exchange's control plane attached to a running nats-server. */
export interface AttachedExchange {
  /** The exchange's URL; a cluster's is every node's, comma-separated. */
  url: string;
  /** Copies JetStream keeps of each stream and bucket (1 single node, 3 in a cluster). */
  replicas: number;
  /** The exchange administrator's connection (full rights in the exchange account); it answers no request. */
  admin: NatsConnection;
  /** Where the exchange's services answer agencies (their own NATS user, inside each caller's inbox only). */
  services: ExchangeServiceHost;
  policy: Policy;
  provisioned: ProvisionReport;
  directory: DirectoryService;
  /** Revoke an agency: signed revocation list to receivers, NATS users revoked on the live server. */
  revoke(agencyId: string, at?: Date): Promise<RevokeResult>;
  /**
   * Re-provision streams and consumers (after enrolments or a policy change), by name (provision-named.ts: nothing
   * listed, so a cluster node down costs no listing's wait). `full`: the full reconcile instead, which lists every
   * stream's consumers to delete strays nothing in Liaison made (≈ 4 s per stream with a cluster node down).
   */
  reprovision(o?: { full?: boolean }): Promise<ProvisionReport>;
  /** The audit ledger (services/audit), unless attached with `audit: false`. */
  audit?: AuditService;
  stop(): Promise<void>;
}

/**
 * Attach the control plane to a running nats-server configured from `trustDir`: connect as the
 * exchange administrator, provision JetStream from the policy, serve the federation directory.
 */
export async function attachExchange(o: {
  trustDir: string;
  /** One server, or every node of a cluster (an array or comma-separated). */
  url: string | readonly string[];
  catalog: TypeCatalog;
  logger?: Logger;
  audit?: ExchangeAuditOptions;
  plain?: boolean;
  /** Replica count of streams and buckets (the exchange's config: 3 in a cluster); default what its streams have, else 1. */
  replicas?: number;
}): Promise<AttachedExchange> {
  const logger = o.logger ?? silentLogger();
  const url = serverList(o.url).join(',');
  const paths = trustPaths(o.trustDir);
  const policy = await federationPolicy(o.trustDir, o.catalog);
  let admin: NatsConnection;
  try {
    admin = await connect({
      servers: serverList(url),
      ...(await trustDirTls(o.trustDir, url, { plain: o.plain })),
      authenticator: credsAuthenticator(new Uint8Array(await readPrivateFile(paths.adminCreds))),
      name: 'liaison-exchange',
      maxReconnectAttempts: -1,
      // No stack-traced Error objects built up front per request (as the SDK client): the audit service's ledger
      // appends are 2-3 requests per message, ~41 -> ~17 µs of CPU each. A failure keeps its class and message (only
      // its stack loses the caller's frames); call sites wrap it in a typed LiaisonError as before.
      noAsyncTraces: true,
    });
  } catch (err) {
    throw asLiaisonError(err, 'ERR_CONNECT', `exchange administrator cannot connect to ${url}`);
  }
  let services: ExchangeServiceHost | undefined;
  // The policy in force (read by the account sync before `ex` exists).
  let currentPolicy = policy;
  try {
    // Agencies live in accounts of their own: the server must know them (and the exchange's exports) first.
    const accounts = await startAccountSync({ trustDir: o.trustDir, url, plain: o.plain, logger, policy: () => currentPolicy, catalog: o.catalog });
    // By name: on a cluster with a node down, every listing would wait ≈ 4 s for it (provision-named.ts).
    const provisioned = await provisionByName(admin, policy, o.catalog, logger, await revokedAgencies(o.trustDir), { replicas: o.replicas });
    await keepHandledForApplied(admin, o.trustDir, policy, o.catalog); // the applied agreements' outage on top (issue 17)
    const replicas = provisioned.replicas ?? 1;
    services = await startExchangeServiceHost({ url, trustDir: o.trustDir, plain: o.plain, subjects: [DIRECTORY_REQUEST_SUBJECTS, REPLAY_SUBJECTS, RETRACT_SUBJECTS, QUARANTINE_SERVICE_SUBJECTS, PEEK_SUBJECTS], logger });
    const host = services;
    // A policy applied from elsewhere (`liaison policy apply`) reaches the running exchange with the directory:
    // its services, replay rights and audit recipients follow it without a restart.
    const adoptPolicy = async () => {
      const next = await federationPolicy(o.trustDir, o.catalog);
      if (next.hash === ex.policy.hash) return;
      ex.policy = next;
      currentPolicy = next;
      await recordEnforcedPolicy(admin, next);
      logger.info({ policyHash: next.hash }, 'exchange adopted the applied policy');
    };
    const onDirectoryChange = async () => {
      await adoptPolicy();
      await accounts.sync().catch((err: unknown) => logger.warn({ err }, 'could not push the account JWTs'));
    };
    resyncWhenNodesReturn(admin, accounts, logger);
    const foreign = startForeignDirectories({ nc: admin, trustDir: o.trustDir, federation: (await openFederation(o.trustDir)).name, logger });
    const directory = await startDirectoryService({ nc: admin, host, file: paths.directory, logger, onChange: onDirectoryChange, foreign: foreign.get });
    startReplayService({ nc: admin, host, policy: () => ex.policy, catalog: o.catalog, logger });
    startRetractService({ nc: admin, host, trustDir: o.trustDir, policy: () => ex.policy, catalog: o.catalog, logger });
    startQuarantineService({ nc: admin, host, logger });
    startPeekService({ nc: admin, host, policy: () => ex.policy, catalog: o.catalog, logger });
    const ex: AttachedExchange = {
      url,
      replicas,
      admin,
      services: host,
      policy,
      provisioned,
      directory,
      async revoke(agencyId, at) {
        const before = await revokedAgencies(o.trustDir);
        const result = await revokeAgency({ dir: o.trustDir, agencyId, at });
        await directory.refresh();
        await applyAccountUpdate({ url, trustDir: o.trustDir, accountJwt: result.accountJwt, plain: o.plain });
        // Its durable consumers go too: nothing keeps collecting messages for a revoked agency. Only those, by name (a
        // listing of every stream's consumers waits for a dead node on a cluster: see provision-change.ts).
        ex.provisioned = await provisionPolicyChange(admin, { policy: ex.policy, revoked: before }, { policy: ex.policy, revoked: await revokedAgencies(o.trustDir) }, o.catalog, logger, { replicas });
        logger.info({ agency: agencyId }, 'agency revoked');
        return result;
      },
      async reprovision(r = {}) {
        ex.policy = await federationPolicy(o.trustDir, o.catalog);
        currentPolicy = ex.policy;
        await accounts.sync();
        const provision = r.full ? provisionExchange : provisionByName;
        ex.provisioned = await provision(admin, ex.policy, o.catalog, logger, await revokedAgencies(o.trustDir), { replicas });
        await keepHandledForApplied(admin, o.trustDir, ex.policy, o.catalog);
        await directory.refresh();
        return ex.provisioned;
      },
      async stop() {
        // Bounded, stalled server or not: each part gets until its share of the bound, then what it holds is left
        // (what JetStream stores is read again at the next start; unacknowledged work is redelivered).
        const by = Date.now() + STOP_BOUND_MS;
        await ex.audit?.stop(by - CONNECTIONS_SHARE_MS);
        directory.stop();
        foreign.stop();
        const closed = await Promise.all([host.close(by), drainBy(admin, by)]);
        if (closed.includes(false)) logger.warn({ boundMs: STOP_BOUND_MS }, 'exchange stop: connections closed without draining (the server did not answer)');
      },
    };
    await recordEnforcedPolicy(admin, policy);
    if (o.audit !== false) ex.audit = await startAuditService({ ...o.audit, nc: admin, trustDir: o.trustDir, policy: () => ex.policy, catalog: o.catalog, logger });
    // The audit ledger stream is made by its service: kept at the replica count like the rest.
    if (replicas > 1) await replicateStreams(await jetstreamManager(admin), replicas, [LEDGER_STREAM]);
    return ex;
  } catch (err) {
    await services?.close().catch(() => undefined);
    await admin.close().catch(() => undefined);
    throw err;
  }
}

/** A local exchange: nats-server child process plus the control plane. */
export interface RunningExchange extends AttachedExchange {
  server: NatsProcess;
  configFile: string;
}

/**
 * `liaison exchange up`: issue the TLS server certificate (unless `plain`), write the operator-mode nats-server config for `trustDir`, start
 * nats-server on host:port with its store in `storeDir`, then attach the control plane.
 */
export async function startExchange(o: {
  trustDir: string;
  storeDir: string;
  catalog: TypeCatalog;
  host?: string;
  port?: number;
  logger?: Logger;
  audit?: ExchangeAuditOptions;
  /** Plain TCP instead of TLS (loopback hosts only; ERR_TLS otherwise). */
  plain?: boolean;
  /** Accept agency leaf nodes (`liaison leaf up`) on this port, on `host`, TLS unless `plain`. */
  leafPort?: number;
}): Promise<RunningExchange> {
  const host = o.host ?? '127.0.0.1';
  const port = o.port ?? 4222;
  await mkdir(o.storeDir, { recursive: true, mode: 0o700 });
  const configFile = join(o.storeDir, 'nats-server.conf');
  // TLS by default: the federation CA (created here for a trust dir made before TLS) issues the server certificate.
  if (!o.plain) await ensureExchangeTls(o.trustDir, { hosts: [host] });
  await writeFile(configFile, renderServerConfig({ trustDir: o.trustDir, host, port, storeDir: o.storeDir, tls: !o.plain, ...(o.leafPort === undefined ? {} : { leafnodes: { port: o.leafPort } }) }), { mode: 0o600 });
  const server = await spawnNatsServer({ configFile, host, port, logger: o.logger });
  try {
    const attached = await attachExchange({ trustDir: o.trustDir, url: server.url, catalog: o.catalog, logger: o.logger, audit: o.audit, plain: o.plain });
    const stopAttached = attached.stop;
    return Object.assign(attached, {
      server,
      configFile,
      async stop() {
        await stopAttached();
        await server.stop();
      },
    });
  } catch (err) {
    await server.stop();
    throw err;
  }
}
