import { createHash, randomBytes } from 'node:crypto';
import { access, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LiaisonError } from '../sdk/errors.ts';
import { readPrivateFile, writePrivateFile } from '../sdk/trust/key-file.ts';

/** What a token may do: send messages; receive and acknowledge; checks and case queries; retract and correct; ask the policy. */
export const SCOPES = ['send', 'receive', 'check', 'retract', 'policy'] as const;

/** One scope of {@link SCOPES}. */
export type Scope = (typeof SCOPES)[number];

/** A token as stored: never the token itself, only the SHA-256 of it. */
export interface StoredToken {
  /** A short public id (the token's prefix), to name it in logs and to revoke it. */
  id: string;
  /** Hex SHA-256 of the whole token text. */
  sha256: string;
  scopes: Scope[];
  createdAt: string;
  label?: string;
}

interface TokenFile {
  version: 1;
  tokens: StoredToken[];
}

/** The caller a token authenticates. */
export interface TokenCaller {
  id: string;
  scopes: ReadonlySet<Scope>;
  label?: string;
}

/** Where an agency's gateway tokens are kept (mode 0600; a looser mode is refused like a private key). */
export function tokenFilePath(agencyDir: string): string {
  return join(agencyDir, 'gateway', 'tokens.json');
}

/** Parse `send,receive` into scopes (ERR_USAGE naming an unknown one). */
export function parseScopes(text: string): Scope[] {
  const scopes = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (scopes.length === 0) throw new LiaisonError('ERR_USAGE', `give at least one scope (${SCOPES.join(', ')})`);
  for (const s of scopes) if (!(SCOPES as readonly string[]).includes(s)) throw new LiaisonError('ERR_USAGE', `unknown scope "${s}" (scopes: ${SCOPES.join(', ')})`);
  return [...new Set(scopes)] as Scope[];
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

async function exists(path: string): Promise<boolean> {
  return await access(path).then(
    () => true,
    () => false,
  );
}

function parseTokenFile(bytes: Buffer, path: string): TokenFile {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new LiaisonError('ERR_CONFIG_INVALID', `${path} is not JSON`, { file: path }, { cause: err });
  }
  const f = value as Partial<TokenFile>;
  if (f?.version !== 1 || !Array.isArray(f.tokens)) throw new LiaisonError('ERR_CONFIG_INVALID', `${path} is not a gateway token file (version 1)`, { file: path });
  for (const t of f.tokens) {
    if (typeof t?.id !== 'string' || !/^[0-9a-f]{64}$/.test(String(t.sha256)) || !Array.isArray(t.scopes)) {
      throw new LiaisonError('ERR_CONFIG_INVALID', `${path} holds a malformed token entry`, { file: path });
    }
  }
  return f as TokenFile;
}

/** Read the stored tokens of an agency (none when the file does not exist; ERR_KEY_FILE_MODE when it is group/other accessible). */
export async function readTokens(agencyDir: string): Promise<StoredToken[]> {
  const path = tokenFilePath(agencyDir);
  if (!(await exists(path))) return [];
  return parseTokenFile(await readPrivateFile(path), path).tokens;
}

/**
 * A reader of the token file for {@link TokenVerifier}: the tokens when the file changed since the last
 * read (by size, modification time and inode: one `stat`), else undefined.
 */
export function tokenFileReloader(agencyDir: string): () => Promise<StoredToken[] | undefined> {
  let seen: string | undefined;
  const path = tokenFilePath(agencyDir);
  return async () => {
    const st = await stat(path).catch(() => undefined);
    const now = st ? `${st.size}:${st.mtimeMs}:${st.ino}` : '';
    if (now === seen) return undefined;
    // Marked seen only once read: a file that fails to read fails every call until it is fixed (closed, not stale).
    const tokens = await readTokens(agencyDir);
    seen = now;
    return tokens;
  };
}

/**
 * Make a new API token with `scopes` and store only its SHA-256 (the file is rewritten atomically with
 * mode 0600). Returns the token text: shown once, never stored.
 */
export async function createToken(agencyDir: string, scopes: Scope[], label?: string): Promise<{ token: string; stored: StoredToken }> {
  const tokens = await readTokens(agencyDir);
  const id = randomBytes(6).toString('hex');
  const token = `lgw_${id}_${randomBytes(32).toString('base64url')}`;
  const stored: StoredToken = { id, sha256: sha256Hex(token), scopes, createdAt: new Date().toISOString(), ...(label ? { label } : {}) };
  const file: TokenFile = { version: 1, tokens: [...tokens, stored] };
  await writePrivateFile(tokenFilePath(agencyDir), `${JSON.stringify(file, null, 2)}\n`);
  return { token, stored };
}

/**
 * Revoke the token `id`: drop its entry from the token file (rewritten atomically, mode 0600). A running
 * gateway sees the change on its next call and answers 401 to that token. ERR_USAGE when no token has that id.
 */
export async function revokeToken(agencyDir: string, id: string): Promise<StoredToken> {
  const tokens = await readTokens(agencyDir);
  const gone = tokens.find((t) => t.id === id);
  if (!gone) throw new LiaisonError('ERR_USAGE', `no gateway token ${JSON.stringify(id)} in ${tokenFilePath(agencyDir)} (liaison gateway token list shows the ids)`, { file: tokenFilePath(agencyDir) });
  const file: TokenFile = { version: 1, tokens: tokens.filter((t) => t !== gone) };
  await writePrivateFile(tokenFilePath(agencyDir), `${JSON.stringify(file, null, 2)}\n`);
  return gone;
}

function byHash(tokens: readonly StoredToken[]): Map<string, TokenCaller> {
  return new Map(tokens.map((t) => [t.sha256, { id: t.id, scopes: new Set(t.scopes), ...(t.label ? { label: t.label } : {}) }]));
}

/** The tokens a running gateway accepts, by the SHA-256 of their text. */
export class TokenVerifier {
  #byHash: Map<string, TokenCaller>;
  readonly #reload: (() => Promise<readonly StoredToken[] | undefined>) | undefined;

  /** `reload` re-reads the stored tokens when their file changed (undefined: unchanged); every call asks it first. */
  constructor(tokens: readonly StoredToken[], reload?: () => Promise<readonly StoredToken[] | undefined>) {
    this.#byHash = byHash(tokens);
    this.#reload = reload;
  }

  /**
   * {@link authorize} against the token file as it is now: re-read first when it changed (one `stat` per
   * call), so a token created since the start is honoured and a revoked one refused at once.
   */
  async authorizeFresh(authorization: string | undefined, scope: Scope): Promise<TokenCaller> {
    const fresh = await this.#reload?.();
    if (fresh) this.#byHash = byHash(fresh);
    return this.authorize(authorization, scope);
  }

  /** How many tokens it accepts. */
  get size(): number {
    return this.#byHash.size;
  }

  /**
   * The caller of an `Authorization: Bearer <token>` header holding `scope`: ERR_GATEWAY_UNAUTHORIZED when
   * the header is missing or the token unknown, ERR_GATEWAY_SCOPE when it lacks the scope.
   */
  authorize(authorization: string | undefined, scope: Scope): TokenCaller {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) throw new LiaisonError('ERR_GATEWAY_UNAUTHORIZED', 'this call needs an API token: Authorization: Bearer <token> (liaison gateway token create)');
    // The lookup is by a hash of the presented token: no comparison of secrets whose timing could leak them.
    const caller = this.#byHash.get(sha256Hex(m[1]!));
    if (!caller) throw new LiaisonError('ERR_GATEWAY_UNAUTHORIZED', 'the API token is not one this gateway knows', { unknown: true });
    if (!caller.scopes.has(scope)) {
      throw new LiaisonError('ERR_GATEWAY_SCOPE', `token ${caller.id} lacks the "${scope}" scope (it has: ${[...caller.scopes].join(', ')})`, { token: caller.id, scope });
    }
    return caller;
  }
}
