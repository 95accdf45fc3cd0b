import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { LiaisonError } from '../sdk/errors.ts';
import type { Logger } from '../sdk/logging.ts';
import { locateNatsServer } from './nats-binary.ts';

/** A nats-server child process started by Liaison. */
export interface NatsProcess {
  readonly pid: number;
  readonly host: string;
  readonly port: number;
  readonly url: string;
  /** Ask the server to re-read its config file (SIGHUP). */
  reload(): void;
  /** Stop the server (SIGTERM, then SIGKILL after `graceMs`) and wait for it to exit. */
  stop(graceMs?: number): Promise<void>;
  /** Resolves when the process exits, with its exit code (or null when killed by a signal). */
  readonly exited: Promise<number | null>;
}

/** Options for {@link spawnNatsServer}. */
export interface SpawnNatsOptions {
  configFile: string;
  host: string;
  port: number;
  binary?: string;
  logger?: Logger;
  readyTimeoutMs?: number;
}

/** The nats-server binary ({@link locateNatsServer}): `$LIAISON_NATS_SERVER`, else `nats-server` on the PATH; ERR_NATS_SERVER_MISSING naming the fix when there is none. */
export function natsServerBinary(): string {
  return locateNatsServer();
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * True when a NATS server answers on host:port with its INFO line. A TLS server is probed to the end of a handshake
 * (nothing is sent over it; its certificate is checked by the real clients), so it logs no handshake error.
 */
async function portAnswers(host: string, port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const sock = tcpConnect({ host, port });
    sock.once('data', (d) => {
      const line = d.toString('latin1');
      if (!line.startsWith('INFO')) {
        sock.destroy();
        return resolve(false);
      }
      if (!/"tls_required":\s*true/.test(line)) {
        sock.destroy();
        return resolve(true);
      }
      const secure = tlsConnect({ socket: sock, rejectUnauthorized: false });
      secure.once('secureConnect', () => {
        secure.end();
        resolve(true);
      });
      secure.once('error', () => {
        secure.destroy();
        resolve(true);
      });
    });
    sock.once('error', () => resolve(false));
    sock.setTimeout(500, () => {
      sock.destroy();
      resolve(false);
    });
  });
}

/**
 * Start `nats-server -c configFile` and wait until it answers on host:port with its INFO line.
 * The server's own log lines go to the logger at debug level (errors at warn).
 */
export async function spawnNatsServer(opts: SpawnNatsOptions): Promise<NatsProcess> {
  const bin = opts.binary ?? natsServerBinary();
  let child: ChildProcess;
  try {
    child = spawn(bin, ['-c', opts.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new LiaisonError('ERR_EXCHANGE', `cannot start ${bin}: ${(err as Error).message}`, {}, { cause: err });
  }
  const tail: string[] = [];
  const onLine = (buf: Buffer) => {
    for (const line of buf.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      tail.push(line);
      if (tail.length > 40) tail.shift();
      if (/\[(ERR|FTL|WRN)\]/.test(line)) opts.logger?.warn({ nats: line }, 'nats-server');
      else opts.logger?.debug({ nats: line }, 'nats-server');
    }
  };
  child.stdout?.on('data', onLine);
  child.stderr?.on('data', onLine);
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });
  // Never leave a server behind when this process ends (a failed test, Ctrl-C in the demo).
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      process.off('exit', killOnExit);
      resolve(code);
    }),
  );
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
  });

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 15_000);
  while (!(await portAnswers(opts.host, opts.port))) {
    if (spawnError || hasExited || Date.now() > deadline) {
      if (!hasExited) child.kill('SIGKILL');
      const why = spawnError ? spawnError.message : hasExited ? 'exited' : 'did not become ready in time';
      throw new LiaisonError('ERR_EXCHANGE', `nats-server ${why} (config ${opts.configFile}): ${tail.slice(-5).join(' | ')}`, {
        configFile: opts.configFile,
      });
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  return {
    pid: child.pid ?? -1,
    host: opts.host,
    port: opts.port,
    url: `nats://${opts.host}:${opts.port}`,
    exited,
    reload() {
      child.kill('SIGHUP');
    },
    async stop(graceMs = 5_000) {
      if (hasExited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
