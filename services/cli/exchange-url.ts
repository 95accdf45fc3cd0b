import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LiaisonError } from '../sdk/errors.ts';

/** Where nothing else names the exchange: the default of `liaison exchange up`. */
export const DEFAULT_EXCHANGE_URL = 'nats://127.0.0.1:4222';

/** The file in TRUST_DIR where `exchange up` records the URL it serves, so later `--dir` commands find it. */
export const EXCHANGE_FILE = 'exchange.json';

/** `url`, checked: one nats:// or tls:// URL, or several comma-separated (every node of a cluster). */
function checkedUrl(url: string, from: string): string {
  const urls = url.split(',');
  if (!urls.every((u) => /^(nats|tls):\/\/[^\s/,]+$/.test(u))) {
    throw new LiaisonError('ERR_CONFIG_INVALID', `${from} must be a nats:// or tls:// URL (host:port), or several comma-separated (a cluster), got ${JSON.stringify(url)}`, { from });
  }
  return url;
}

/**
 * The exchange a `--dir TRUST_DIR` command talks to (one URL, or a comma-separated list of a cluster's nodes): `--server URL`, else `LIAISON_SERVER`, else the URL
 * the last `exchange up` of this trust directory recorded, else {@link DEFAULT_EXCHANGE_URL}.
 */
export function exchangeUrlFor(trustDir: string, flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag !== undefined) return checkedUrl(flag, '--server');
  return knownExchangeUrl(trustDir, env) ?? DEFAULT_EXCHANGE_URL;
}

/** `LIAISON_SERVER`, else the URL `exchange up` recorded in TRUST_DIR, else undefined (nobody said). */
export function knownExchangeUrl(trustDir: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.LIAISON_SERVER) return checkedUrl(env.LIAISON_SERVER, 'LIAISON_SERVER');
  let text: string;
  try {
    text = readFileSync(join(trustDir, EXCHANGE_FILE), 'utf8');
  } catch {
    return undefined;
  }
  let url: unknown;
  try {
    url = (JSON.parse(text) as { url?: unknown }).url;
  } catch {
    throw new LiaisonError('ERR_CONFIG_INVALID', `${join(trustDir, EXCHANGE_FILE)} is not JSON (delete it: the next exchange up writes it again)`);
  }
  return typeof url === 'string' ? checkedUrl(url, join(trustDir, EXCHANGE_FILE)) : undefined;
}

/** The servers an `--as AGENCY_DIR` command connects to (a comma-separated list is every node of a cluster): `--server`, else `LIAISON_SERVER`, else undefined (agency.json's). */
export function agencyServersFor(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  if (flag !== undefined) return checkedUrl(flag, '--server').split(',');
  if (env.LIAISON_SERVER) return checkedUrl(env.LIAISON_SERVER, 'LIAISON_SERVER').split(',');
  return undefined;
}

/** Record the URL `exchange up` serves in TRUST_DIR (a public fact: no secret in it). */
export async function rememberExchangeUrl(trustDir: string, url: string, at: Date = new Date()): Promise<void> {
  await writeFile(join(trustDir, EXCHANGE_FILE), `${JSON.stringify({ url, startedAt: at.toISOString() }, null, 2)}\n`);
}
