import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IdempotencyLog, idempotencyFilePath, requestFingerprint } from '../services/gateway/idempotency.ts';
import { createToken, parseScopes, readTokens, TokenVerifier } from '../services/gateway/tokens.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';

describe('gateway idempotency log and API tokens (files in the agency directory)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'liaison-gw-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a key sends once, concurrent callers included; a failed send is retried under the same message id', async () => {
    const log = await IdempotencyLog.open(dir);
    const ids: string[] = [];
    const send = async (id: string) => {
      ids.push(id);
      await new Promise((r) => setTimeout(r, 20));
      return { id };
    };
    const fp = requestFingerprint({ a: 1 });
    const [x, y] = await Promise.all([log.run('t:k1', fp, send), log.run('t:k1', fp, send)]);
    expect(ids).toHaveLength(1);
    expect(x.result).toEqual(y.result);
    expect([x.replayed, y.replayed].sort()).toEqual([false, true]);
    const other = await log.run('t:k1', requestFingerprint({ a: 2 }), send).catch((e: unknown) => e);
    expect(isLiaisonError(other, 'ERR_GATEWAY_IDEMPOTENCY')).toBe(true);

    let attempts = 0;
    const flaky = async (id: string) => {
      ids.push(id);
      if (++attempts === 1) throw new Error('exchange did not answer');
      return { id };
    };
    await expect(log.run('t:k2', fp, flaky)).rejects.toThrow('exchange did not answer');
    const retried = await log.run('t:k2', fp, flaky);
    expect(retried.replayed).toBe(false);
    expect(ids.at(-1)).toBe(ids.at(-2)); // the same message id both times: JetStream de-duplicates the second publish
    await log.close();
    expect(((await stat(idempotencyFilePath(dir))).mode & 0o777).toString(8)).toBe('600');
  });

  it('is bounded: the oldest keys are forgotten, in memory and after a reopen (the file is compacted)', async () => {
    const log = await IdempotencyLog.open(dir, { max: 3 });
    for (let i = 0; i < 10; i++) await log.run(`t:k${i}`, 'fp', async (id) => ({ id }));
    expect(log.size).toBe(3);
    await log.close();
    const lines = (await readFile(idempotencyFilePath(dir), 'utf8')).trim().split('\n');
    // Compacted whenever it holds more than twice the bound (20 entries were written).
    expect(lines.length).toBeLessThanOrEqual(2 * 3 + 1);
    const again = await IdempotencyLog.open(dir, { max: 3 });
    expect(again.size).toBe(3);
    let sent = 0;
    const count = async (id: string) => {
      sent++;
      return { id };
    };
    expect((await again.run('t:k9', 'fp', count)).replayed).toBe(true);
    expect((await again.run('t:k0', 'fp', count)).replayed).toBe(false);
    expect(sent).toBe(1);
    await again.close();
  });

  it('refuses a log or token file readable by others (like a private key)', async () => {
    await (await IdempotencyLog.open(dir)).close();
    await chmod(idempotencyFilePath(dir), 0o644);
    expect(isLiaisonError(await IdempotencyLog.open(dir).catch((e: unknown) => e), 'ERR_KEY_FILE_MODE')).toBe(true);
    await createToken(dir, ['send']);
    await chmod(join(dir, 'gateway', 'tokens.json'), 0o640);
    expect(isLiaisonError(await readTokens(dir).catch((e: unknown) => e), 'ERR_KEY_FILE_MODE')).toBe(true);
  });

  it('tokens: stored as SHA-256 only, scopes enforced, unknown scopes refused', async () => {
    const { token, stored } = await createToken(dir, parseScopes('send,check'));
    const text = await readFile(join(dir, 'gateway', 'tokens.json'), 'utf8');
    // The secret is everything after `lgw_<id>_` (base64url: it may itself contain `_`).
    const secret = token.slice(`lgw_${stored.id}_`.length);
    expect(secret.length).toBeGreaterThanOrEqual(43);
    expect(text).not.toContain(secret);
    expect(text).toContain(stored.sha256);
    const v = new TokenVerifier(await readTokens(dir));
    expect(v.authorize(`Bearer ${token}`, 'send').id).toBe(stored.id);
    expect(() => v.authorize(`Bearer ${token}`, 'receive')).toThrow(expect.objectContaining({ code: 'ERR_GATEWAY_SCOPE' }));
    expect(() => v.authorize(undefined, 'send')).toThrow(expect.objectContaining({ code: 'ERR_GATEWAY_UNAUTHORIZED' }));
    expect(() => v.authorize(`Bearer ${token}x`, 'send')).toThrow(expect.objectContaining({ code: 'ERR_GATEWAY_UNAUTHORIZED' }));
    expect(() => parseScopes('send,admin')).toThrow(expect.objectContaining({ code: 'ERR_USAGE' }));
  });
});
