import { join } from 'node:path';
import { connect, credsAuthenticator, errors } from '@nats-io/transport-node';
import { LiaisonClient } from '../sdk/client/client.ts';
import { natsTlsOptions, readAgencyCa } from '../sdk/client/nats-tls.ts';
import { inboxPrefix } from '../sdk/subjects.ts';
import { readPrivateFile } from '../trust/index.ts';
import { client, codeOf, expectThat, line, refuse, sent, waitFor, type RunContext } from './context.ts';
import type { ScenarioEvent } from './scenario.ts';
import { resolveTemplate } from './template.ts';

type Rogue = Extract<ScenarioEvent, { kind: 'rogue' }>;
type Tamper = Extract<ScenarioEvent, { kind: 'tamper' }>;
type Revoke = Extract<ScenarioEvent, { kind: 'revoke' }>;

/** Play a `rogue` integration: a raw NATS client with the agency's own creds; the broker must refuse each attempt. */
export async function playRogue(ctx: RunContext, e: Rogue): Promise<void> {
  const url = ctx.exchange!.url;
  const creds = await readPrivateFile(join(ctx.work, 'agencies', e.as, 'nats.creds'));
  // A raw client with the agency's own creds and CA: the broker, not the SDK, must refuse what follows.
  const raw = await connect({ servers: url, ...natsTlsOptions(await readAgencyCa(join(ctx.work, 'agencies', e.as), {}), url), authenticator: credsAuthenticator(new Uint8Array(creds)), inboxPrefix: inboxPrefix(e.as), reconnect: false });
  const violations: string[] = [];
  void (async () => {
    for await (const st of raw.status()) if (st.type === 'error' && st.error instanceof errors.PermissionViolationError) violations.push(st.error.subject);
  })();
  for (const a of e.attempts) {
    if (a.op === 'pub') raw.publish(a.subject, 'x');
    else if (a.op === 'sub') raw.subscribe(a.subject);
    else await raw.request(a.subject, '', { timeout: 1_000 }).catch(() => undefined);
    const refused = await waitFor(() => violations.includes(a.subject), 2_000);
    if (refused) refuse(ctx, 'NATS Permissions Violation');
    line(ctx, { from: e.as, to: 'broker', type: a.what, outcome: refused ? 'refused' : 'delivered', detail: refused ? 'Permissions Violation (by nats-server)' : 'NOT REFUSED' }, refused ? { code: 'NATS Permissions Violation' } : {});
    expectThat(ctx, refused, `the broker must refuse: ${a.what}`);
  }
  await raw.close();
}

const total = (counts: Partial<Record<string, number>>) => Object.values(counts).reduce<number>((a, b) => a + (b ?? 0), 0);

/** Play a `tamper`: a copy with one bit flipped inside its signature; the recipient must reject it. */
export async function playTamper(ctx: RunContext, e: Tamper): Promise<void> {
  const target = client(ctx, e.to);
  const rejectedBefore = total(target.stats.rejected);
  const codesBefore: Partial<Record<string, number>> = { ...target.stats.rejected };
  const sealed = client(ctx, e.from).seal(e.type, resolveTemplate(e.body, ctx.names, ctx.sim.now()), { to: e.to });
  for (const c of sealed.copies) c.data[c.data.length - 10]! ^= 0x01; // inside the signature
  await client(ctx, e.from).publishSealed(sealed);
  sent(ctx, e.from, e.type, sealed.id);
  const rejected = await waitFor(() => total(target.stats.rejected) > rejectedBefore);
  // A service consuming for the agency (the centre) has no scenario hook on its rejections: report them here.
  if (!ctx.result.events.some((x) => x.outcome === 'rejected' && x.to === e.to && x.step === ctx.step)) {
    for (const [code, n] of Object.entries(target.stats.rejected)) {
      if ((n ?? 0) > (codesBefore[code] ?? 0)) {
        refuse(ctx, code);
        line(ctx, { from: e.from, to: e.to, type: e.type, tier: sealed.copies[0]?.tier, outcome: 'rejected', detail: `${code} (quarantined)` }, { code, id: sealed.id });
      }
    }
  }
  expectThat(ctx, rejected && !ctx.inbox.some((r) => r.msg.header.id === sealed.id), `${e.to} must reject the corrupted copy`);
}

/** Play a `revoke`: the exchange revokes an agency; its live session must be cut and it must not reconnect. */
export async function playRevoke(ctx: RunContext, e: Revoke): Promise<void> {
  const victim = client(ctx, e.agency);
  let cutAt = 0;
  void (async () => {
    for await (const st of victim.nc.status()) if ((st.type === 'disconnect' || st.type === 'error') && !cutAt) cutAt = Date.now();
  })();
  const revokedAt = Date.now();
  await ctx.exchange!.revoke(e.agency);
  const cut = await waitFor(() => cutAt > 0 || victim.nc.isClosed(), 5_000);
  line(ctx, { from: 'exchange', to: e.agency, type: 'revocation', outcome: 'info', detail: cut ? `signed revocation list pushed; live NATS session cut ${cutAt - revokedAt} ms after the revocation` : 'session still open' });
  if (cut) ctx.emit({ kind: 'agency-disconnected', id: e.agency, reason: 'revoked' });
  expectThat(ctx, cut, `revoked agency ${e.agency} must be disconnected`);
  try {
    await LiaisonClient.connect({ agencyDir: join(ctx.work, 'agencies', e.agency), catalog: ctx.catalog, reconnect: false });
    expectThat(ctx, false, `revoked agency ${e.agency} must not reconnect`);
  } catch (err) {
    const { code } = codeOf(err);
    refuse(ctx, `reconnect ${code}`);
    line(ctx, { from: e.agency, to: 'broker', type: 'reconnect', outcome: 'refused', detail: `${code} (Authorization Violation)` }, { code: `reconnect ${code}` });
  }
}
