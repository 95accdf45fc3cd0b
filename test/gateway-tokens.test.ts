import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenFilePath } from '../services/gateway/tokens.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { call, startTestGateway, type TestGateway } from './support/gateway.ts';
import { runBin } from './support/liaison-bin.ts';

const POLICE = 'xa-border-police';

/** `liaison gateway token create`: the token it prints once. */
async function create(dir: string, scopes: string, label: string): Promise<string> {
  const r = await runBin(['gateway', 'token', 'create', '--as', dir, '--scopes', scopes, '--label', label]);
  expect(r.code, r.err).toBe(0);
  return r.out.trim();
}

describe('gateway API tokens: `liaison gateway token list` and `revoke` against a running gateway', () => {
  let fed: TestFederation;
  let gw: TestGateway;
  let dir: string;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [POLICE], name: 'gateway-tokens' });
    dir = fed.agencyDirs[POLICE]!;
    gw = await startTestGateway(fed, POLICE);
  }, 60_000);
  afterAll(async () => {
    await gw?.stop();
    await fed?.stop();
  });

  it('list shows id, label, scopes and creation time, never the token or its hash', async () => {
    const token = await create(dir, 'receive,policy', 'case-system');
    const id = /^lgw_([0-9a-f]+)_/.exec(token)![1]!;
    const stored = JSON.parse(await readFile(tokenFilePath(dir), 'utf8')) as { tokens: { id: string; sha256: string }[] };
    const hash = stored.tokens.find((t) => t.id === id)!.sha256;

    const text = await runBin(['gateway', 'token', 'list', '--as', dir]);
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(new RegExp(`${id}\\s+\\d{4}-\\d\\d-\\d\\dT\\S+\\s+receive,policy\\s+case-system`));
    const json = await runBin(['gateway', 'token', 'list', '--as', dir, '-o', 'json']);
    expect(json.code, json.err).toBe(0);
    const listed = json.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(listed.find((t) => t.id === id)).toEqual({ id, label: 'case-system', scopes: ['receive', 'policy'], createdAt: expect.stringMatching(/^\d{4}-/) });
    // Neither the secret nor its hash (a hash would let anyone holding the listing test guesses offline).
    // The secret is everything after `lgw_<id>_` (base64url: it may itself contain `_`).
    const secret = token.slice(`lgw_${id}_`.length);
    expect(secret.length).toBeGreaterThanOrEqual(43);
    for (const out of [text.out, json.out, text.err, json.err]) {
      expect(out).not.toContain(secret);
      expect(out).not.toContain(hash);
    }
    expect(listed.every((t) => Object.keys(t).every((k) => ['id', 'label', 'scopes', 'createdAt'].includes(k)))).toBe(true);
  });

  it('revoke: the running gateway answers 401 to the revoked token on its very next call; other tokens keep working', async () => {
    const token = await create(dir, 'policy', 'to-revoke');
    const other = await create(dir, 'policy', 'stays');
    const id = /^lgw_([0-9a-f]+)_/.exec(token)![1]!;
    const why = '/v1/policy/why?send=CaseReferral';
    // Used first, so the gateway knows it (an unknown token alone would not tell a revocation from a never-seen token).
    expect((await call(gw.url, 'GET', why, { token })).status).toBe(200);
    expect((await call(gw.url, 'GET', why, { token })).status).toBe(200);

    const r = await runBin(['gateway', 'token', 'revoke', '--as', dir, id]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`token ${id}`);

    const after = await call(gw.url, 'GET', why, { token });
    expect([after.status, after.body.code]).toEqual([401, 'ERR_GATEWAY_UNAUTHORIZED']);
    expect((await call(gw.url, 'GET', why, { token: other })).status).toBe(200);
    expect((await call(gw.url, 'GET', why, { token: gw.token })).status).toBe(200);
    const list = await runBin(['gateway', 'token', 'list', '--as', dir, '--json']);
    expect(list.out).not.toContain(id);

    // Revoking it again, or an id that never was: a usage error naming the id, nothing changed.
    const again = await runBin(['gateway', 'token', 'revoke', '--as', dir, id]);
    expect(again.code).not.toBe(0);
    expect(again.err).toContain('ERR_USAGE');
    expect(again.err).toContain(id);
    expect((await call(gw.url, 'GET', why, { token: other })).status).toBe(200);
  });
});
