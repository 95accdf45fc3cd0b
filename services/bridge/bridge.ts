import { readFile } from 'node:fs/promises';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { natsTlsOptions, serverList } from '../sdk/client/nats-tls.ts';
import { LiaisonError } from '../sdk/errors.ts';
import { silentLogger, type Logger } from '../sdk/logging.ts';
import type { TypeCatalog } from '../sdk/policy/index.ts';
import { DIRECTORY_UPDATE_SUBJECT } from '../sdk/subjects.ts';
import { openFederation, readPrivateFile, trustPaths } from '../trust/index.ts';
import { federationPolicy } from '../exchange/admin.ts';
import { readSignedAgreement } from './agreement/file.ts';
import { verifyAgreement } from './agreement/sign.ts';
import { compileBridgeSide, type BridgeSide } from './compile.ts';
import { BridgeLink, currentCreds, type LinkEnd, type LinkStats } from './forwarder.ts';
import { exportConsumersOf } from './export-consumers.ts';
import { bridgePaths } from './paths.ts';
import { foreignDirectorySubject } from './subjects.ts';

/** One federation's end of a bridge: its broker, its two bridge users, its export consumers and its directory. */
export interface BridgeEnd {
  federation: string;
  servers: string[];
  /** The federation CA (PEM); undefined: plain TCP, loopback only. */
  ca?: string;
  exportCreds: Uint8Array;
  importCreds: Uint8Array;
  /** Inbox prefixes the two users' permissions grant. */
  exportInbox: string;
  importInbox: string;
  consumers: readonly { stream: string; name: string }[];
  /** Where the two creds are kept: read again at each connect (a policy apply re-issues the users, refresh.ts). */
  exportCredsFile?: string;
  importCredsFile?: string;
  /** The export consumers as compiled now (a policy apply changes them): asked again when a link starts again. */
  currentConsumers?: () => Promise<readonly { stream: string; name: string }[]>;
  /** This federation's current root-signed directory (e.g. read from its trust dir), if the bridge can read it. */
  directory?: () => Promise<string | undefined>;
  /**
   * Else, the subject on which the export user may ask its exchange for the current directory, as any client does
   * (`liaison.v1.svc.trust.directory.<bridge account>`; a kit's bridge reads it from the user's JWT).
   */
  directoryRequest?: string;
}

/** A running bridge: both directions and both directory relays. */
export interface RunningBridge {
  /** `<from>→<to>` counters. */
  stats(): Record<string, LinkStats>;
  stop(): Promise<void>;
}

/** How often the relay re-reads a federation's directory and re-publishes it to the peer (an exchange restarted forgets it). */
export const DIRECTORY_RELAY_MS = 2_000;

/**
 * `liaison bridge up` (bridge design §5–6): both directions of the agreement in one process, and each side's
 * root-signed directory published into the other (`liaison.v1.trust.foreign.<side>`) at start, when it changes and
 * every {@link DIRECTORY_RELAY_MS}. The exchanges keep the latest that verifies against the agreement's peer root.
 */
export async function startBridge(o: { a: BridgeEnd; b: BridgeEnd; logger?: Logger; window?: number }): Promise<RunningBridge> {
  const logger = o.logger ?? silentLogger();
  const end = (e: BridgeEnd, role: 'export' | 'import'): LinkEnd => ({
    federation: e.federation,
    servers: e.servers,
    ...(e.ca ? { ca: e.ca } : {}),
    creds: role === 'export' ? e.exportCreds : e.importCreds,
    ...((role === 'export' ? e.exportCredsFile : e.importCredsFile) ? { credsFile: (role === 'export' ? e.exportCredsFile : e.importCredsFile)! } : {}),
    inbox: role === 'export' ? e.exportInbox : e.importInbox,
  });
  const relays = [await startDirectoryRelay(o.a, end(o.b, 'import'), logger), await startDirectoryRelay(o.b, end(o.a, 'import'), logger)];
  const links = new Map<string, BridgeLink>([
    [`${o.a.federation}→${o.b.federation}`, BridgeLink.start({ from: end(o.a, 'export'), to: end(o.b, 'import'), consumers: o.a.consumers, ...(o.a.currentConsumers ? { currentConsumers: o.a.currentConsumers } : {}), logger, ...(o.window ? { window: o.window } : {}) })],
    [`${o.b.federation}→${o.a.federation}`, BridgeLink.start({ from: end(o.b, 'export'), to: end(o.a, 'import'), consumers: o.b.consumers, ...(o.b.currentConsumers ? { currentConsumers: o.b.currentConsumers } : {}), logger, ...(o.window ? { window: o.window } : {}) })],
  ]);
  logger.info({ a: o.a.federation, b: o.b.federation }, 'bridge up');
  return {
    stats: () => Object.fromEntries([...links].map(([k, l]) => [k, { ...l.stats }])),
    async stop() {
      await Promise.all([...links.values()].map((l) => l.stop()));
      await Promise.all(relays.map((r) => r.stop()));
    },
  };
}

/**
 * Publish `from`'s directory into the peer with the peer's import user: what `from`'s trust dir holds (polled) and
 * every push `from`'s exchange makes (seen by `from`'s export user).
 */
async function startDirectoryRelay(from: BridgeEnd, to: LinkEnd, logger: Logger): Promise<{ stop(): Promise<void> }> {
  const dst = await connectRelay(to.servers, to.ca, to.credsFile ? currentCreds(to.credsFile, to.creds) : to.creds, to.inbox, `bridge-directory-${from.federation}`);
  const exportCreds = from.exportCredsFile ? currentCreds(from.exportCredsFile, from.exportCreds) : from.exportCreds;
  const src = await connectRelay(from.servers, from.ca, exportCreds, from.exportInbox, `bridge-directory-watch-${from.federation}`);
  const subject = foreignDirectorySubject(from.federation);
  let last: string | undefined;
  const publish = (jws: string | undefined) => {
    if (!jws) return;
    last = jws;
    try {
      dst.publish(subject, jws);
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'could not relay the directory');
    }
  };
  src.subscribe(DIRECTORY_UPDATE_SUBJECT, { callback: (err, msg) => void (err || publish(msg.string())) });
  const current = async (): Promise<string | undefined> => {
    if (from.directory) return await from.directory();
    if (from.directoryRequest) return (await src.request(from.directoryRequest, '', { timeout: 5_000 })).string() || undefined;
    return undefined;
  };
  const tick = async () => publish((await current().catch(() => undefined)) ?? last);
  await tick();
  const timer = setInterval(() => void tick(), DIRECTORY_RELAY_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all([dst.close().catch(() => undefined), src.close().catch(() => undefined)]);
    },
  };
}

async function connectRelay(servers: string[], ca: string | undefined, creds: Uint8Array | (() => Uint8Array), inbox: string, name: string): Promise<NatsConnection> {
  return await connect({ servers, ...natsTlsOptions(ca, servers), authenticator: credsAuthenticator(creds), inboxPrefix: inbox, name, maxReconnectAttempts: -1 });
}

/** The inbox prefix a compiled user's subscribe rights grant (`_INBOX….>` → `_INBOX…`). */
export function inboxOf(sub: readonly string[], who: string): string {
  const s = sub.find((x) => x.startsWith('_INBOX') && x.endsWith('.>'));
  if (!s) throw new LiaisonError('ERR_CONFIG_INVALID', `the ${who} may subscribe to no inbox`);
  return s.slice(0, -2);
}

/** A federation's end of applied agreement `id`, from its trust dir (creds, CA, export consumers, directory) and its exchange URL. */
export async function bridgeEndFromTrust(o: { trustDir: string; url: string; id: string; catalog: TypeCatalog; plain?: boolean }): Promise<BridgeEnd> {
  const fed = await openFederation(o.trustDir);
  const paths = bridgePaths(o.trustDir, o.id);
  const doc = await readSignedAgreement(paths.agreement).catch((err: unknown) => {
    throw new LiaisonError('ERR_USAGE', `agreement ${o.id} is not applied in ${o.trustDir} (liaison bridge apply)`, { agreement: o.id }, { cause: err });
  });
  const agreement = verifyAgreement(doc, { federation: fed.name, root: fed.root.publicJwk }, new Date(), { catalog: o.catalog });
  const side: BridgeSide = compileBridgeSide(agreement, fed.name, await federationPolicy(o.trustDir, o.catalog), o.catalog);
  const p = trustPaths(o.trustDir);
  return {
    federation: fed.name,
    servers: serverList(o.url),
    ...(o.plain ? {} : { ca: await readFile(p.caCert, 'utf8') }),
    exportCreds: new Uint8Array(await readPrivateFile(paths.exportCreds)),
    importCreds: new Uint8Array(await readPrivateFile(paths.importCreds)),
    exportInbox: inboxOf(side.exportUser.sub, 'export user'),
    importInbox: inboxOf(side.importUser.sub, 'import user'),
    consumers: exportConsumersOf(side).map((c) => ({ stream: c.stream, name: c.name })),
    exportCredsFile: paths.exportCreds,
    importCredsFile: paths.importCreds,
    currentConsumers: async () => exportConsumersOf(compileBridgeSide(agreement, fed.name, await federationPolicy(o.trustDir, o.catalog), o.catalog)).map((c) => ({ stream: c.stream, name: c.name })),
    directory: async () => (await readFile(p.directory, 'utf8')).trim(),
  };
}

