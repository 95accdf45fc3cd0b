import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { sign, verify } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, type Account, type User } from '@nats-io/jwt';
import { connect, credsAuthenticator, type NatsConnection, type Status } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import {
  applyAccountUpdate,
  directoryKey,
  enrolAgency,
  ensureExchangeTls,
  generateEd25519,
  initFederation,
  issueCredential,
  issueUser,
  loadSigningKey,
  openFederation,
  readPrivateFile,
  readPrivateJwk,
  renderServerConfig,
  revokeAgency,
  rotateSigningKey,
  trustPaths,
  verifyCredential,
  verifyDirectory,
  writePrivateFile,
  type Federation,
  type NatsPermissions,
} from '../services/trust/index.ts';
import { startNatsServer, type TestNatsServer } from './fixture/nats-server.ts';
import { CONTAINER_TLS, containerTlsFiles } from './support/federation.ts';

/** The server's TLS files: the trust dir's own, or where the fixture copies them in a container. */
const tlsFor = (ctx: { runtime: 'container' | 'local' }) => (ctx.runtime === 'container' ? CONTAINER_TLS : true);

const POLICY = 'version: 1\nname: test-federation\nroles: {}\nagencies: {}\n';

async function expectCode(p: Promise<unknown>, code: string): Promise<Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(Error);
  expect((err as { code?: string }).code).toBe(code);
  return err as Error;
}

const modeOf = async (file: string): Promise<number> => (await stat(file)).mode & 0o777;

function permissionsFor(id: string): NatsPermissions {
  return {
    pub: { allow: [`liaison.v1.operational.documents.DocumentReport.${id}.>`] },
    sub: { allow: [`_INBOX_${id}.>`, 'liaison.v1.trust.directory'] },
  };
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'liaison-trust-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('federation init', () => {
  it('creates every TRUST_DIR file, private files 0600 and directories 0700', async () => {
    const dir = join(work, 'init');
    const fed = await initFederation({ dir, policyText: POLICY, federationName: 'test-federation' });
    const p = trustPaths(dir);
    for (const f of [p.rootKey, p.operatorSeed, p.accountSeed, p.systemSeed, p.adminCreds, p.sysCreds]) {
      expect(await modeOf(f), f).toBe(0o600);
    }
    for (const d of [p.dir, p.natsDir, p.agenciesDir]) expect(await modeOf(d), d).toBe(0o700);
    for (const f of [p.rootPub, p.operatorJwt, p.accountJwt, p.systemJwt, p.directory, p.policy]) {
      expect((await stat(f)).isFile(), f).toBe(true);
    }
    expect(await readFile(p.policy, 'utf8')).toBe(POLICY);
    const directory = await verifyDirectory(await readFile(p.directory, 'utf8'), fed.root.publicJwk);
    expect(directory.federation).toBe('test-federation');
    expect(directory.agencies).toEqual([]);
    expect(directory.policy).toBe(POLICY);
    const op = decode(fed.nats.operator.jwt);
    expect(op.name).toBe('test-federation');
    expect((op.nats as { system_account?: string }).system_account).toBe(fed.nats.system.publicKey);
    const acc = decode<Account>(fed.nats.account.jwt);
    expect(acc.name).toBe('LIAISON');
    expect(acc.nats.limits).toMatchObject({ conn: -1, subs: -1, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1, wildcards: true });
  });

  it('refuses to overwrite an existing federation', async () => {
    const dir = join(work, 'init');
    await expectCode(initFederation({ dir, policyText: POLICY, federationName: 'other' }), 'ERR_CONFIG_INVALID');
  });

  it('refuses a federation whose nkey seed file is readable by others', async () => {
    const dir = join(work, 'init-mode');
    await initFederation({ dir, policyText: POLICY, federationName: 'f' });
    await chmod(trustPaths(dir).accountSeed, 0o644);
    await expectCode(openFederation(dir), 'ERR_KEY_FILE_MODE');
  });
});

describe('private key files', () => {
  it('refuses a key file with mode 0644, naming the file, its mode and the chmod fix', async () => {
    const file = join(work, 'keys', 'open.jwk');
    const key = await generateEd25519();
    await writePrivateFile(file, JSON.stringify(key.privateJwk));
    await chmod(file, 0o644);
    const err = await expectCode(readPrivateJwk(file), 'ERR_KEY_FILE_MODE');
    expect(err.message).toContain(file);
    expect(err.message).toContain('0644');
    expect(err.message).toContain(`chmod 600 ${file}`);
  });

  it('writes private files with mode 0600 and loads an Ed25519 signing key with its thumbprint kid', async () => {
    const file = join(work, 'keys', 'good.jwk');
    const key = await generateEd25519();
    await writePrivateFile(file, JSON.stringify(key.privateJwk));
    expect(await modeOf(file)).toBe(0o600);
    const loaded = await loadSigningKey(file);
    expect(loaded.kid).toBe(key.kid);
    expect(loaded.publicJwk).toEqual(key.publicJwk);
    const sig = sign(null, Buffer.from('x'), loaded.privateKey);
    expect(verify(null, Buffer.from('x'), key.publicKey, sig)).toBe(true);
  });

  it('reports a missing or garbage key file as ERR_KEY_FILE_INVALID', async () => {
    await expectCode(readPrivateFile(join(work, 'keys', 'missing.jwk')), 'ERR_KEY_FILE_INVALID');
    const garbage = join(work, 'keys', 'garbage.jwk');
    await writePrivateFile(garbage, 'not json');
    await expectCode(readPrivateJwk(garbage), 'ERR_KEY_FILE_INVALID');
    const pub = join(work, 'keys', 'public-only.jwk');
    await writePrivateFile(pub, JSON.stringify((await generateEd25519()).publicJwk));
    await expectCode(readPrivateJwk(pub), 'ERR_KEY_FILE_INVALID');
  });
});

describe('agency credentials', () => {
  let root: Awaited<ReturnType<typeof generateEd25519>>;
  let agencyKey: Awaited<ReturnType<typeof generateEd25519>>;
  let jwt: string;
  const now = new Date('2026-01-01T00:00:00Z');
  beforeAll(async () => {
    root = await generateEd25519();
    agencyKey = await generateEd25519();
    jwt = await issueCredential(root, {
      federation: 'f',
      agencyId: 'xa-police',
      country: 'XAA',
      roles: ['border-police'],
      publicJwk: agencyKey.publicJwk,
      kid: agencyKey.kid,
      ttlSeconds: 3600,
      now,
    });
  });

  it('verifies against the root and returns typed claims', async () => {
    const claims = await verifyCredential(jwt, root.publicJwk, { at: new Date(now.getTime() + 1000), federation: 'f' });
    expect(claims).toMatchObject({ iss: 'liaison-root:f', sub: 'xa-police', roles: ['border-police'], country: 'XAA' });
    expect(claims.cnf.jwk.kid).toBe(agencyKey.kid);
    expect(claims.exp - claims.iat).toBe(3600);
  });

  it('rejects a tampered credential', async () => {
    const [h, p, s] = jwt.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    claims.roles = ['admin'];
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    await expectCode(verifyCredential(forged, root.publicJwk, { at: now }), 'ERR_CREDENTIAL_INVALID');
  });

  it('rejects an expired credential with ERR_CREDENTIAL_EXPIRED', async () => {
    await expectCode(verifyCredential(jwt, root.publicJwk, { at: new Date(now.getTime() + 3601_000) }), 'ERR_CREDENTIAL_EXPIRED');
  });

  it('rejects a credential signed by another root', async () => {
    const other = await generateEd25519();
    await expectCode(verifyCredential(jwt, other.publicJwk, { at: now }), 'ERR_CREDENTIAL_INVALID');
  });
});

describe('federation directory', () => {
  let fed: Federation;
  const dir = () => join(work, 'dirfed');
  beforeAll(async () => {
    fed = await initFederation({ dir: dir(), policyText: POLICY, federationName: 'dirfed' });
    await enrolAgency({ dir: dir(), agencyId: 'xa-police', name: 'Xandria Police', country: 'XAA', roles: ['border-police'], permissions: permissionsFor('xa-police'), out: join(work, 'dirfed-xa') });
  });

  it('verifies and resolves an agency key by kid', async () => {
    const jws = await readFile(trustPaths(dir()).directory, 'utf8');
    const d = await verifyDirectory(jws, fed.root.publicJwk);
    expect(d.agencies.map((a) => a.id)).toEqual(['xa-police']);
    const agency = JSON.parse(await readFile(join(work, 'dirfed-xa', 'agency.json'), 'utf8'));
    const key = directoryKey(d, 'xa-police', agency.keyId);
    expect(key?.status).toBe('active');
    expect(key?.claims.sub).toBe('xa-police');
    expect(directoryKey(d, 'xa-police', agency.keyId)).toBe(key);
    expect(directoryKey(d, 'xa-police', 'nope')).toBeUndefined();
  });

  it('rejects a tampered directory', async () => {
    const jws = await readFile(trustPaths(dir()).directory, 'utf8');
    const [h, p, s] = jws.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
    payload.agencies[0].roles = ['centre'];
    await expectCode(verifyDirectory(`${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`, fed.root.publicJwk), 'ERR_DIRECTORY_INVALID');
    await expectCode(verifyDirectory(jws, (await generateEd25519()).publicJwk), 'ERR_DIRECTORY_INVALID');
  });

  it('refuses to re-enrol an enrolled agency without reissue', async () => {
    await expectCode(
      enrolAgency({ dir: dir(), agencyId: 'xa-police', name: 'X', country: 'XAA', roles: ['r'], permissions: permissionsFor('xa-police'), out: join(work, 'dirfed-xa2') }),
      'ERR_CONFIG_INVALID',
    );
  });

  it('keeps a rotated-out key verifiable, marked superseded at the rotation time', async () => {
    const out = join(work, 'dirfed-xa');
    const before = JSON.parse(await readFile(join(out, 'agency.json'), 'utf8'));
    const oldKey = await loadSigningKey(join(out, 'signing-key.jwk'));
    const signedEarlier = sign(null, Buffer.from('earlier message'), oldKey.privateKey);
    const rotatedAt = new Date(Date.now() + 1000);
    const r = await rotateSigningKey({ dir: dir(), agencyId: 'xa-police', out, now: rotatedAt });
    expect(r.supersededKeyId).toBe(before.keyId);
    expect((await loadSigningKey(join(out, 'signing-key.jwk'))).kid).toBe(r.keyId);
    expect(await modeOf(join(out, 'signing-key.jwk'))).toBe(0o600);
    const d = await verifyDirectory(r.directory, fed.root.publicJwk);
    const old = directoryKey(d, 'xa-police', before.keyId)!;
    expect(old.status).toBe('superseded');
    expect(old.supersededAt?.getTime()).toBe(rotatedAt.getTime());
    expect(verify(null, Buffer.from('earlier message'), old.publicKey, signedEarlier)).toBe(true);
    await verifyCredential(d.agencies[0]!.credentials[0]!.jwt, fed.root.publicJwk, { at: new Date(rotatedAt.getTime() - 1) });
    expect(directoryKey(d, 'xa-police', r.keyId)?.status).toBe('active');
    expect(JSON.parse(await readFile(join(out, 'agency.json'), 'utf8')).keyId).toBe(r.keyId);
  });
});

describe('NATS user JWTs', () => {
  it('turns an empty allow list into deny-all (NATS reads an empty allow list as allow-all)', async () => {
    const fed = await openFederation(join(work, 'init'));
    const u = await issueUser({ accountSigner: fed.nats.account.seed, name: 'mute', permissions: { pub: { allow: [] }, sub: { allow: ['_INBOX_mute.>'] } } });
    const claims = decode<User>(u.jwt).nats;
    expect(claims.pub).toEqual({ deny: ['>'] });
    expect(claims.sub).toEqual({ allow: ['_INBOX_mute.>'] });
    expect(claims.resp).toBeUndefined();
  });
});

describe('exchange in operator mode (real nats-server)', () => {
  let server: TestNatsServer;
  let fed: Federation;
  const dir = () => join(work, 'live');
  const open: NatsConnection[] = [];
  /** The federation CA: the exchange serves TLS with a certificate it issued. */
  let tls: { ca: string };
  const connectAs = async (creds: string, inboxPrefix?: string, extra: Record<string, unknown> = {}) => {
    const nc = await connect({ servers: server.url, tls, authenticator: credsAuthenticator(new TextEncoder().encode(creds)), ...(inboxPrefix ? { inboxPrefix } : {}), ...extra });
    open.push(nc);
    return nc;
  };

  beforeAll(async () => {
    fed = await initFederation({ dir: dir(), policyText: POLICY, federationName: 'live' });
    for (const id of ['xa-police', 'yb-ngo']) {
      await enrolAgency({ dir: dir(), agencyId: id, name: id, country: 'XAA', roles: ['r'], permissions: permissionsFor(id), out: join(work, `live-${id}`) });
    }
    tls = { ca: (await ensureExchangeTls(dir())).toString() };
    server = await startNatsServer({ name: 'trust', config: (ctx) => renderServerConfig({ trustDir: dir(), host: ctx.host, port: ctx.port, storeDir: ctx.storeDir, tls: tlsFor(ctx) }), files: containerTlsFiles(dir()) });
  });
  afterAll(async () => {
    for (const nc of open) await nc.close().catch(() => undefined);
    await server?.stop();
  });

  it('lets the exchange-admin user use JetStream in the LIAISON account', async () => {
    const admin = await connectAs(await readFile(trustPaths(dir()).adminCreds, 'utf8'));
    const info = await (await jetstreamManager(admin)).getAccountInfo();
    expect(info.limits.max_streams).toBe(-1);
  });

  it('connects an enrolled agency with its .creds and delivers what it may publish', async () => {
    const admin = await connectAs(await readFile(trustPaths(dir()).adminCreds, 'utf8'));
    const sub = admin.subscribe('liaison.v1.>', { max: 1 });
    await admin.flush();
    const nc = await connectAs(await readFile(join(work, 'live-xa-police', 'nats.creds'), 'utf8'), '_INBOX_xa-police');
    nc.publish('liaison.v1.operational.documents.DocumentReport.xa-police.all', 'hello');
    await nc.flush();
    for await (const m of sub) expect(m.subject).toBe('liaison.v1.operational.documents.DocumentReport.xa-police.all');
    expect(await modeOf(join(work, 'live-xa-police', 'nats.creds'))).toBe(0o600);
  });

  it('refuses a publish outside the agency permissions with a Permissions Violation', async () => {
    const nc = await connectAs(await readFile(join(work, 'live-xa-police', 'nats.creds'), 'utf8'), '_INBOX_xa-police');
    const errors: string[] = [];
    (async () => {
      for await (const s of nc.status()) if (s.type === 'error') errors.push(s.error.message);
    })();
    nc.publish('liaison.v1.operational.documents.DocumentReport.yb-ngo.all', 'spoof');
    await nc.flush();
    await new Promise((r) => setTimeout(r, 200));
    expect(errors.join('\n')).toMatch(/Permissions Violation for Publish to "liaison\.v1\.operational\.documents\.DocumentReport\.yb-ngo\.all"/);
    const sub = nc.subscribe('_INBOX.>');
    await expect(sub.closed).resolves.toBeInstanceOf(Error);
  });

  it('disconnects a revoked agency once the account update is applied, and refuses its reconnect', async () => {
    const creds = await readFile(join(work, 'live-yb-ngo', 'nats.creds'), 'utf8');
    const nc = await connectAs(creds, '_INBOX_yb-ngo', { maxReconnectAttempts: 2, reconnectTimeWait: 100 });
    const events: { at: number; s: Status }[] = [];
    (async () => {
      for await (const s of nc.status()) events.push({ at: performance.now(), s });
    })();
    const r = await revokeAgency({ dir: dir(), agencyId: 'yb-ngo' });
    expect(r.revokedUsers).toHaveLength(1);
    expect(decode<Account>(r.accountJwt).nats.revocations?.[r.revokedUsers[0]!]).toBeGreaterThan(0);
    const d = await verifyDirectory(r.directory, fed.root.publicJwk);
    expect(d.agencies.find((a) => a.id === 'yb-ngo')?.revokedAt).toBe(r.record.revokedAt);

    const t0 = performance.now();
    const reply = await applyAccountUpdate({ url: server.url, trustDir: dir(), accountJwt: r.accountJwt });
    expect(reply.code).toBe(200);
    const closed = await Promise.race([nc.closed().then(() => performance.now()), new Promise<number>((res) => setTimeout(() => res(-1), 5000))]);
    const firstError = events.find((e) => e.s.type === 'error' || e.s.type === 'disconnect');
    expect(firstError, 'revoked agency saw no error/disconnect').toBeDefined();
    const disconnectMs = firstError!.at - t0;
    console.info(`[trust] revocation applied → revoked agency disconnected after ${disconnectMs.toFixed(1)} ms (closed after ${(closed - t0).toFixed(1)} ms)`);
    expect(disconnectMs).toBeLessThan(2000);
    expect(events.some((e) => e.s.type === 'error' && /Revoked/i.test(e.s.error.message))).toBe(true);

    const again = await connect({ servers: server.url, tls, authenticator: credsAuthenticator(new TextEncoder().encode(creds)), reconnect: false }).then(
      (c) => c,
      (e: unknown) => e as Error,
    );
    expect(again).toBeInstanceOf(Error);
    expect((again as Error).message).toMatch(/Authorization Violation|revoked/i);

    const other = await connectAs(await readFile(join(work, 'live-xa-police', 'nats.creds'), 'utf8'), '_INBOX_xa-police');
    await other.flush();
  });

  it('keeps the revocation in TRUST_DIR: a fresh exchange from the regenerated config refuses the revoked creds', async () => {
    const fresh = await startNatsServer({ name: 'trust-fresh', config: (ctx) => renderServerConfig({ trustDir: dir(), host: ctx.host, port: ctx.port, storeDir: ctx.storeDir, tls: tlsFor(ctx) }), files: containerTlsFiles(dir()) });
    try {
      const revoked = await readFile(join(work, 'live-yb-ngo', 'nats.creds'), 'utf8');
      await expect(connect({ servers: fresh.url, tls, authenticator: credsAuthenticator(new TextEncoder().encode(revoked)), reconnect: false })).rejects.toThrow(/Authorization Violation/);
      const ok = await connect({ servers: fresh.url, tls, authenticator: credsAuthenticator(new TextEncoder().encode(await readFile(join(work, 'live-xa-police', 'nats.creds'), 'utf8'))) });
      await ok.close();
    } finally {
      await fresh.stop();
    }
  });

  it('reissues NATS creds with new permissions and revokes the previous user', async () => {
    const out = join(work, 'live-xa-police');
    const oldCreds = await readFile(join(out, 'nats.creds'), 'utf8');
    const oldKid = JSON.parse(await readFile(join(out, 'agency.json'), 'utf8')).keyId;
    const widened: NatsPermissions = {
      pub: { allow: [...permissionsFor('xa-police').pub.allow, 'liaison.v1.public.documents.DocumentReport.xa-police.>'] },
      sub: permissionsFor('xa-police').sub,
    };
    const r = await enrolAgency({ dir: dir(), agencyId: 'xa-police', name: 'xa-police', country: 'XAA', roles: ['r'], permissions: widened, out, reissue: true });
    expect(r.agency.keyId).toBe(oldKid);
    expect(r.accountJwt).toBeDefined();
    await applyAccountUpdate({ url: server.url, trustDir: dir(), accountJwt: r.accountJwt });
    const newCreds = await readFile(join(out, 'nats.creds'), 'utf8');
    expect(decode<User>(newCreds.split('\n')[1]!).nats.pub?.allow).toEqual(widened.pub.allow);
    const nc = await connectAs(newCreds, '_INBOX_xa-police');
    await nc.flush();
    await expect(connect({ servers: server.url, tls, authenticator: credsAuthenticator(new TextEncoder().encode(oldCreds)), reconnect: false })).rejects.toThrow(/Authorization Violation/);
  });
});
