import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CENTRE_SKIPPED_TYPES, startCentre } from '../centre/index.ts';
import { enrolFromPolicy } from '../exchange/admin.ts';
import { startExchange } from '../exchange/exchange.ts';
import { freePort } from '../exchange/nats-process.ts';
import { REGISTRY_TYPES, startRegistry } from '../registry/service.ts';
import { registryState } from '../registry/state.ts';
import { LiaisonClient } from '../sdk/client/client.ts';
import { typeCatalogOf } from '../sdk/client/type-catalog.ts';
import type { ReceivedMessage } from '../sdk/envelope/open.ts';
import type { Logger } from '../sdk/logging.ts';
import { agencyBuckets, agencyServes } from '../sdk/policy/index.ts';
import { initFederation } from '../trust/index.ts';
import { startWorkflows, workflowTypes } from '../workflows/service.ts';
import { line, refuse, type RunContext } from './context.ts';
import type { Scenario } from './scenario.ts';

/** Start the throwaway federation: trust directory from the policy, then the exchange; emits run-started. */
export async function startFederation(ctx: RunContext, s: Scenario, policyFile: string, logger: Logger): Promise<void> {
  const trustDir = join(ctx.work, 'trust');
  const policyText = await readFile(policyFile, 'utf8');
  await initFederation({ dir: trustDir, policyText, federationName: s.name });
  const port = await freePort();
  const exchange = await startExchange({ trustDir, storeDir: join(ctx.work, 'store'), port, catalog: typeCatalogOf(ctx.catalog), logger });
  ctx.exchange = exchange;
  ctx.step = s.title;
  ctx.emit({
    kind: 'run-started',
    scenario: s.name,
    title: s.title,
    ...(s.description ? { description: s.description } : {}),
    policy: { name: exchange.policy.name, hash: exchange.policy.hash, file: policyFile },
    exchange: { url: exchange.url, streams: exchange.provisioned.streams.length, consumers: exchange.provisioned.consumers.length },
  });
}

/** Enrol and connect one agency, start the federation services its policy entry gives it, and consume its copies. */
async function connectAgency(ctx: RunContext, id: string, logger: Logger): Promise<void> {
  const exchange = ctx.exchange!;
  const policy = exchange.policy;
  const a = policy.agencies[id]!;
  const out = join(ctx.work, 'agencies', id);
  await enrolFromPolicy({ trustDir: join(ctx.work, 'trust'), agencyId: id, out, catalog: typeCatalogOf(ctx.catalog), servers: [exchange.url] });
  await exchange.directory.refresh();
  const c = await LiaisonClient.connect({ agencyDir: out, catalog: ctx.catalog, logger });
  ctx.clients.set(id, c);
  const record = (msg: ReceivedMessage) => {
    ctx.inbox.push({ agency: id, msg });
    ctx.emit({ kind: 'received', agency: id, sender: msg.header.sender, type: msg.type, tier: msg.header.tier, id: msg.header.id });
  };
  const runsRegistry = agencyServes(policy, id).includes('DocumentCheckRequest');
  if (runsRegistry) ctx.registry = await startRegistry({ client: c, ...registryState(), logger, observe: record });
  const runsCases = agencyBuckets(policy, id).some((b) => b.kind === 'kv' && b.name === 'cases');
  if (runsCases) ctx.workflows = await startWorkflows({ client: c, logger, clock: ctx.sim, tickMs: 0, observe: record });
  const runsCentre = agencyBuckets(policy, id).some((b) => b.kind === 'kv' && b.name === 'correlations');
  if (runsCentre) {
    ctx.centre = await startCentre({ client: c, logger, clock: ctx.sim, reportEveryMs: 0, observe: record });
    ctx.centreAgency = id;
  }
  const centreTypes = runsCentre ? c.consumerSpecs().map((x) => x.type).filter((x) => !CENTRE_SKIPPED_TYPES.includes(x)) : [];
  const own = [...(runsRegistry ? REGISTRY_TYPES : []), ...(runsCases ? workflowTypes() : []), ...centreTypes];
  await c.consume(record, {
    types: c.consumerSpecs().map((x) => x.type).filter((x) => !own.includes(x)),
    onReject: (r) => {
      refuse(ctx, r.code);
      line(ctx, { from: r.claimedSender ?? '?', to: id, type: r.subject.split('.')[4] ?? '?', tier: r.subject.split('.')[2], outcome: 'rejected', detail: `${r.code} (quarantined)` }, { code: r.code });
    },
  });
  const service = runsRegistry ? 'registry' : runsCases ? 'cases' : runsCentre ? 'centre' : undefined;
  ctx.emit({ kind: 'agency-connected', id, name: a.name, country: a.country, roles: [...a.roles], ...(service ? { service } : {}) });
}

/** Enrol and connect every agency of the policy, in its order. */
export async function connectAgencies(ctx: RunContext, logger: Logger): Promise<void> {
  for (const id of Object.keys(ctx.exchange!.policy.agencies)) await connectAgency(ctx, id, logger);
}
