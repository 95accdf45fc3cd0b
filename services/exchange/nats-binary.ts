import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { LiaisonError } from '../sdk/errors.ts';

/** The environment variable naming the nats-server binary to run (a path, or a name looked up on the PATH). */
export const NATS_SERVER_ENV = 'LIAISON_NATS_SERVER';

/** The command that installs nats-server on Debian and Ubuntu (the package ships 2.9, which Liaison needs at least). */
export const NATS_SERVER_INSTALL = 'sudo apt-get install -y nats-server';

/**
 * Where Debian's package puts the binary, searched after the PATH: an ordinary user's PATH on Debian has no
 * `/usr/sbin`, so a server installed by `apt-get` would otherwise be "missing" for everyone but root.
 */
export const SBIN_DIRS: readonly string[] = ['/usr/sbin', '/usr/local/sbin'];

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function onPath(name: string, pathVar: string | undefined, extraDirs: readonly string[]): string | undefined {
  for (const dir of [...(pathVar ?? '').split(delimiter).filter(Boolean), ...extraDirs]) {
    const file = join(dir, name);
    if (executable(file)) return file;
  }
  return undefined;
}

/**
 * The nats-server binary to run: `$LIAISON_NATS_SERVER` (a path, or a name searched on the PATH), else
 * `$NATS_SERVER_BIN` (its older name), else `nats-server` on the PATH or in {@link SBIN_DIRS}. Everything that
 * starts nats-server (the exchange, the simulator, the test fixture, `npm start`'s pre-step) asks here, so a missing
 * binary is one sentence naming the fix — ERR_NATS_SERVER_MISSING — and never a raw `spawn nats-server ENOENT`.
 */
export function locateNatsServer(env: NodeJS.ProcessEnv = process.env, extraDirs: readonly string[] = SBIN_DIRS): string {
  const named = env[NATS_SERVER_ENV] ?? env.NATS_SERVER_BIN;
  const variable = env[NATS_SERVER_ENV] !== undefined ? NATS_SERVER_ENV : 'NATS_SERVER_BIN';
  if (named !== undefined && named !== '') {
    const found = named.includes('/') ? (executable(named) ? named : undefined) : onPath(named, env.PATH, extraDirs);
    if (found) return found;
    throw new LiaisonError(
      'ERR_NATS_SERVER_MISSING',
      `${variable} names ${named}, which is not an executable file: point ${NATS_SERVER_ENV} at a nats-server binary, or unset it to use nats-server from the PATH`,
      { binary: named },
    );
  }
  const found = onPath('nats-server', env.PATH, extraDirs);
  if (found) return found;
  throw new LiaisonError(
    'ERR_NATS_SERVER_MISSING',
    `nats-server is not installed (not on the PATH nor in ${extraDirs.join(', ') || 'any sbin directory'}): run \`${NATS_SERVER_INSTALL}\` (Debian/Ubuntu; elsewhere see https://docs.nats.io/running-a-nats-service/introduction/installation), or set ${NATS_SERVER_ENV} to its path`,
    {},
  );
}
