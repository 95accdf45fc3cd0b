import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { LiaisonError } from '../sdk/errors.ts';
import { uuidv7 } from '../sdk/ids.ts';
import { readPrivateFile, writePrivateFile } from '../sdk/trust/key-file.ts';

/** The most Idempotency-Keys a gateway remembers (the oldest are forgotten first). */
export const MAX_IDEMPOTENCY_KEYS = 10_000;

/** The longest Idempotency-Key accepted (characters). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 200;

/** One remembered key: the message id it sends under, and the answer once sent. */
interface Entry {
  /** `<token id>:<Idempotency-Key>`: one caller's key never collides with another's. */
  key: string;
  /** SHA-256 of the request (type, body, options): the same key for another request is refused. */
  fp: string;
  /** The message id every attempt under this key sends with (JetStream de-duplicates by it). */
  id: string;
  /** The answer of the send that succeeded; absent while sending (or after a crash during it). */
  result?: unknown;
}

/** The file an agency's gateway remembers its keys in (mode 0600, one JSON entry per line). */
export function idempotencyFilePath(agencyDir: string): string {
  return join(agencyDir, 'gateway', 'idempotency.jsonl');
}

/** SHA-256 of a request, over its canonical JSON. */
export function requestFingerprint(request: unknown): string {
  return createHash('sha256').update(JSON.stringify(request)).digest('base64url');
}

/** Check an Idempotency-Key header value (ERR_USAGE when empty, too long or not printable ASCII). */
export function checkIdempotencyKey(key: string): string {
  if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(key)) {
    throw new LiaisonError('ERR_USAGE', `Idempotency-Key must be 1–${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters without spaces`);
  }
  return key;
}

/** What {@link IdempotencyLog.run} returns: the answer, and whether it is a replay of an earlier send. */
export interface Idempotent<T> {
  result: T;
  replayed: boolean;
  id: string;
}

function parseLines(text: string): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let e: Entry;
    try {
      e = JSON.parse(line) as Entry;
    } catch {
      continue; // a line torn by a crash mid-write: the entry before it stands
    }
    if (typeof e.key !== 'string' || typeof e.id !== 'string' || typeof e.fp !== 'string') continue;
    entries.delete(e.key);
    entries.set(e.key, e);
  }
  return entries;
}

/**
 * Idempotency-Key → the message id sent under it, kept in the agency's directory so that a restarted
 * gateway never sends a key twice: the id is written down before the first attempt, every retry (after
 * a failure or a crash) sends with the same id, which JetStream de-duplicates, and once sent the stored
 * answer is returned without sending. Bounded to {@link MAX_IDEMPOTENCY_KEYS} (oldest forgotten); the
 * append-only file is compacted when it holds twice that.
 */
export class IdempotencyLog {
  readonly #path: string;
  readonly #max: number;
  readonly #entries: Map<string, Entry>;
  readonly #running = new Map<string, Promise<Idempotent<unknown>>>();
  #fh: FileHandle;
  #lines: number;
  #writes: Promise<void> = Promise.resolve();

  private constructor(path: string, max: number, entries: Map<string, Entry>, fh: FileHandle, lines: number) {
    this.#path = path;
    this.#max = max;
    this.#entries = entries;
    this.#fh = fh;
    this.#lines = lines;
  }

  /** Open (or create) the agency's log; a file accessible by group or others is refused (ERR_KEY_FILE_MODE). */
  static async open(agencyDir: string, o: { max?: number } = {}): Promise<IdempotencyLog> {
    const path = idempotencyFilePath(agencyDir);
    let text = '';
    try {
      text = (await readPrivateFile(path)).toString('utf8');
    } catch (err) {
      if (!(err instanceof LiaisonError && err.code === 'ERR_KEY_FILE_INVALID')) throw err;
      await writePrivateFile(path, '');
    }
    const entries = parseLines(text);
    const max = o.max ?? MAX_IDEMPOTENCY_KEYS;
    while (entries.size > max) entries.delete(entries.keys().next().value!);
    const fh = await open(path, 'a', 0o600);
    return new IdempotencyLog(path, max, entries, fh, text.split('\n').length);
  }

  /** How many keys it remembers. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Run `send(id)` once for `key`: a key seen with the same fingerprint returns its stored answer (or,
   * while it is being sent, waits for it); with another fingerprint, ERR_GATEWAY_IDEMPOTENCY.
   */
  async run<T>(key: string, fp: string, send: (id: string) => Promise<T>): Promise<Idempotent<T>> {
    const running = this.#running.get(key);
    if (running) {
      const r = (await running) as Idempotent<T>;
      if (this.#entries.get(key)?.fp !== fp) throw this.#mismatch(key);
      return { ...r, replayed: true };
    }
    const known = this.#entries.get(key);
    if (known && known.fp !== fp) throw this.#mismatch(key);
    if (known?.result !== undefined) return { result: known.result as T, replayed: true, id: known.id };
    const attempt = this.#attempt(key, fp, known?.id, send);
    this.#running.set(key, attempt);
    try {
      return await attempt;
    } finally {
      this.#running.delete(key);
    }
  }

  async #attempt<T>(key: string, fp: string, knownId: string | undefined, send: (id: string) => Promise<T>): Promise<Idempotent<T>> {
    const id = knownId ?? uuidv7();
    if (!knownId) await this.#record({ key, fp, id });
    const result = await send(id);
    await this.#record({ key, fp, id, result });
    return { result, replayed: false, id };
  }

  #mismatch(key: string): LiaisonError {
    const shown = key.slice(key.indexOf(':') + 1);
    return new LiaisonError('ERR_GATEWAY_IDEMPOTENCY', `Idempotency-Key "${shown}" was used for a different request; it stays bound to message ${this.#entries.get(key)?.id}`, { idempotencyKey: shown });
  }

  /** Remember an entry (in memory now, on disk before the returned promise settles). */
  async #record(e: Entry): Promise<void> {
    this.#entries.delete(e.key);
    this.#entries.set(e.key, e);
    while (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value!);
    const line = `${JSON.stringify(e)}\n`;
    const write = this.#writes.then(async () => {
      await this.#fh.write(line);
      if (++this.#lines > 2 * this.#max) await this.#compact();
    });
    this.#writes = write.catch(() => undefined);
    await write;
  }

  /** Rewrite the file with only the entries remembered now. */
  async #compact(): Promise<void> {
    const text = [...this.#entries.values()].map((e) => `${JSON.stringify(e)}\n`).join('');
    await this.#fh.close();
    await writePrivateFile(this.#path, text);
    this.#fh = await open(this.#path, 'a', 0o600);
    this.#lines = this.#entries.size;
  }

  /** Finish pending writes and close the file. */
  async close(): Promise<void> {
    await this.#writes;
    await this.#fh.close();
  }
}
