import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, credsAuthenticator, errors } from '@nats-io/transport-node';
import { enrolFromPolicy } from '../exchange/admin.ts';
import { startExchange, type RunningExchange } from '../exchange/exchange.ts';
import { freePort } from '../exchange/nats-process.ts';
import { natsTlsOptions, readAgencyCa } from '../sdk/client/nats-tls.ts';
import { REGISTRY_TYPES, startRegistry, type Registry } from '../registry/service.ts';
import { registryState } from '../registry/state.ts';
import { LiaisonClient } from '../sdk/client/client.ts';
import { typeCatalogOf } from '../sdk/client/type-catalog.ts';
import { OffsetClock } from '../sdk/clock.ts';
import type { RetractOutcome } from '../sdk/client/retract.ts';
import type { ReceivedMessage } from '../sdk/envelope/open.ts';
import type { SendOptions } from '../sdk/envelope/seal.ts';
import { isLiaisonError } from '../sdk/errors.ts';
import { silentLogger, type Logger } from '../sdk/logging.ts';
import { agencyBuckets, agencyServes } from '../sdk/policy/index.ts';
import { fieldsAt, loadCatalog } from '../sdk/schema/index.ts';
import { inboxPrefix } from '../sdk/subjects.ts';
import type { Tier } from '../sdk/tier.ts';
import { initFederation, readPrivateFile } from '../trust/index.ts';
import { startWorkflows, workflowTypes, type Workflows } from '../workflows/service.ts';
import { CENTRE_SKIPPED_TYPES, startCentre, type Centre } from '../centre/index.ts';
import type { Scenario, ScenarioEvent } from './scenario.ts';
import { resolveTemplate } from './template.ts';
import { createTimeline, type Timeline, type TimelineEvent } from './timeline.ts';

/** A policy decision the scenario exercised (for the report). */
export interface DecisionRecord {
  at: string;
  from: string;
  type: string;
  to: string;
  outcome: string;
  copies: { tier: string; recipients: string[] }[];
}

/** What a scenario run observed; `failures` empty means every expectation held. */
export interface ScenarioResult {
  scenario: string;
  title: string;
  policy: { name: string; hash: string; file: string };
  failures: string[];
  sent: number;
  /** Copies received and verified (signature, directory, policy, tier) by agencies and services. */
  verified: number;
  refusals: Record<string, number>;
  /** agency → type → tier of the copy it saw. */
  saw: Record<string, Record<string, Tier>>;
  agencies: string[];
  /** The timeline, one record per line printed. */
  events: (TimelineEvent & { sim: string; step: string })[];
  cases: { ref: string; workflow: string; kind: string; state: string; requester: string; requested: string; steps: number }[];
  correlations: { to: string; tier: string; body: Record<string, unknown> }[];
  decisions: DecisionRecord[];
  /** The throwaway directory the run worked in (trust, agencies, store): removed at the end unless `keep`. */
  workDir: string;
}

interface Received {
  agency: string;
  msg: ReceivedMessage;
}

const NOTICE_TYPES = new Set(['WorkflowStateChange', 'WorkflowRejection', 'WorkflowReminder', 'WorkflowEscalation', 'CorrelationAlert', 'DocumentHitNotice', 'RegistryRefusal']);

function simTime(ms: number): string {
  const d = Math.floor(ms / 86_400_000);
  const h = Math.floor((ms % 86_400_000) / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  return `day ${d} ${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;
}

/** Options of {@link runScenario}. */
export interface RunOptions {
  out: (line: string) => void;
  logger?: Logger;
  /** Run under this policy instead of the scenario's (what-if analysis). */
  policyFile?: string;
  /** Override the scenario's speed (simulated seconds per real second; 0 = no waiting). */
  speed?: number;
  keep?: boolean;
}

/**
 * Play a scenario against a real local exchange: a throwaway federation from its policy, every agency
 * enrolled and connected, the services the policy gives roles to (the ¶16 registry, the case registry)
 * running, then each timeline event on a simulated clock — printed as a line per event — and a
 * summary. Everything it starts it stops; everything it creates it removes (unless `keep`).
 */
export async function runScenario(s: Scenario, o: RunOptions): Promise<ScenarioResult> {
  const logger = o.logger ?? silentLogger();
  const speed = o.speed ?? s.speed;
  const t = createTimeline(o.out);
  const work = await mkdtemp(join(tmpdir(), 'liaison-demo-'));
  const trustDir = join(work, 'trust');
  const catalog = loadCatalog();
  const tc = typeCatalogOf(catalog);
  const sim = new OffsetClock();
  const simStart = sim.now();
  const policyFile = o.policyFile ?? s.policyFile;
  const result: ScenarioResult = {
    scenario: s.name,
    title: s.title,
    policy: { name: '', hash: '', file: policyFile },
    failures: [],
    sent: 0,
    verified: 0,
    refusals: {},
    saw: {},
    agencies: [],
    events: [],
    cases: [],
    correlations: [],
    decisions: [],
    workDir: work,
  };
  const clients = new Map<string, LiaisonClient>();
  const names = new Map<string, string>();
  const inbox: Received[] = [];
  let printed = 0;
  let step = '';
  let exchange: RunningExchange | undefined;
  let registry: Registry | undefined;
  let workflows: Workflows | undefined;
  let centre: Centre | undefined;
  let centreAgency: string | undefined;

  const now = () => simTime(sim.now() - simStart);
  const event = (e: TimelineEvent) => {
    t.event(e);
    result.events.push({ ...e, sim: now(), step });
  };
  const expect = (ok: boolean, what: string) => {
    if (!ok) {
      result.failures.push(what);
      t.note(`EXPECTATION FAILED: ${what}`);
    }
  };
  const refuse = (code: string) => {
    result.refusals[code] = (result.refusals[code] ?? 0) + 1;
  };
  const waitFor = async (pred: () => boolean, ms = 5_000) => {
    const end = Date.now() + ms;
    while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 15));
    return pred();
  };
  const client = (id: string) => {
    const c = clients.get(id);
    if (!c) throw new Error(`the scenario names agency "${id}", which the policy does not list`);
    return c;
  };

  /** Print what the services told agencies since the last event (notices, alerts, refusals). */
  const printNotices = () => {
    for (const r of inbox.slice(printed)) {
      if (!NOTICE_TYPES.has(r.msg.type)) continue;
      const b = r.msg.body;
      const detail =
        r.msg.type === 'WorkflowStateChange'
          ? `${String(b.workflow)}: ${String(b.fromState ?? '') || '∅'} → ${String(b.toState)}${b.note ? ` (${String(b.note)})` : ''}`
          : r.msg.type === 'WorkflowRejection'
            ? `${String(b.code)}: ${String(b.reason)}`
            : r.msg.type === 'WorkflowReminder'
              ? `${String(b.workflow)}: ${String(b.awaited)} was due`
              : r.msg.type === 'WorkflowEscalation'
                ? `${String(b.workflow)}: ${String(b.overdueParty)} overdue with ${String(b.awaited)}`
                : r.msg.type === 'CorrelationAlert'
                  ? `link on ${String(b.matchedKind ?? '').replace('ENTITY_KIND_', '').toLowerCase()} ${String(b.matchedValue ?? '(withheld)')}`
                  : r.msg.type === 'DocumentHitNotice'
                    ? `owner told: checked by ${String(b.checkingAgency)} at ${String(b.checkLocation)}`
                    : String(b.reason ?? '');
      event({ from: r.msg.header.sender, to: r.agency, type: r.msg.type, tier: r.msg.header.tier, outcome: r.msg.type === 'WorkflowRejection' || r.msg.type === 'RegistryRefusal' ? 'refused' : 'info', detail });
      if (r.msg.type === 'CorrelationAlert') result.correlations.push({ to: r.agency, tier: r.msg.header.tier, body: b });
    }
    printed = inbox.length;
  };

  try {
    const policyText = await readFile(policyFile, 'utf8');
    await initFederation({ dir: trustDir, policyText, federationName: s.name });
    const port = await freePort();
    exchange = await startExchange({ trustDir, storeDir: join(work, 'store'), port, catalog: tc, logger });
    const policy = exchange.policy;
    result.policy = { name: policy.name, hash: policy.hash, file: policyFile };
    step = s.title;
    t.step(`${s.title}`);
    if (s.description) t.note(s.description.trim());
    t.note(`federation "${policy.name}" — exchange at ${exchange.url} (policy ${policy.hash.slice(0, 19)}…), ${exchange.provisioned.streams.length} streams, ${exchange.provisioned.consumers.length} durable consumers`);

    for (const [id, a] of Object.entries(policy.agencies)) {
      const out = join(work, 'agencies', id);
      await enrolFromPolicy({ trustDir, agencyId: id, out, catalog: tc, servers: [exchange.url] });
      await exchange.directory.refresh();
      const c = await LiaisonClient.connect({ agencyDir: out, catalog, logger });
      clients.set(id, c);
      result.agencies.push(id);
      const record = (msg: ReceivedMessage) => {
        inbox.push({ agency: id, msg });
        result.verified++;
        (result.saw[id] ??= {})[msg.type] = msg.header.tier;
      };
      const runsRegistry = agencyServes(policy, id).includes('DocumentCheckRequest');
      if (runsRegistry) registry = await startRegistry({ client: c, ...registryState(), logger, observe: record });
      const runsCases = agencyBuckets(policy, id).some((b) => b.kind === 'kv' && b.name === 'cases');
      if (runsCases) workflows = await startWorkflows({ client: c, logger, clock: sim, tickMs: 0, observe: record });
      const runsCentre = agencyBuckets(policy, id).some((b) => b.kind === 'kv' && b.name === 'correlations');
      if (runsCentre) {
        centre = await startCentre({ client: c, logger, clock: sim, reportEveryMs: 0, observe: record });
        centreAgency = id;
      }
      const centreTypes = runsCentre ? c.consumerSpecs().map((x) => x.type).filter((x) => !CENTRE_SKIPPED_TYPES.includes(x)) : [];
      const own = [...(runsRegistry ? REGISTRY_TYPES : []), ...(runsCases ? workflowTypes() : []), ...centreTypes];
      await c.consume(record, {
        types: c.consumerSpecs().map((x) => x.type).filter((x) => !own.includes(x)),
        onReject: (r) => {
          refuse(r.code);
          event({ from: r.claimedSender ?? '?', to: id, type: r.subject.split('.')[4] ?? '?', tier: r.subject.split('.')[2], outcome: 'rejected', detail: `${r.code} (quarantined)` });
        },
      });
      const runs = runsRegistry ? '  — runs the ¶16 registry' : runsCases ? '  — runs the case registry (¶13–15 workflows)' : runsCentre ? '  — runs the multiagency centre (¶17 correlation and reports)' : '';
      t.note(`enrolled and connected ${id.padEnd(17)} ${a.country}  roles: ${a.roles.join(', ')}${runs}`);
    }

    for (const e of s.events) {
      const target = simStart + e.at;
      const delta = target - sim.now();
      if (delta > 0) {
        if (speed > 0) await new Promise((r) => setTimeout(r, Math.min(3_000, delta / speed)));
        sim.advance(Math.max(0, target - sim.now()));
      }
      if (e.title) {
        step = e.title;
        t.step(`[${now()}] ${e.title}`);
      }
      // Deadlines that passed on the simulated clock fire now.
      await workflows?.tick();
      await new Promise((r) => setTimeout(r, 30));
      printNotices();
      await play(e);
      await new Promise((r) => setTimeout(r, 30));
      printNotices();
    }

    async function play(e: ScenarioEvent): Promise<void> {
      switch (e.kind) {
        case 'note':
          t.note(e.text);
          return;
        case 'send':
          return playSend(e);
        case 'check-document':
          return playCheck(e);
        case 'expect-case': {
          const id = names.get(e.of);
          const find = () => workflows?.cases().find((c) => id !== undefined && c.applied.includes(id));
          const ok = await waitFor(() => {
            const c = find();
            if (!c || c.state !== e.state) return false;
            if (e.confirmed !== undefined && c.items.filter((i) => i.state === 'confirmed').length !== e.confirmed) return false;
            return e.waitlisted === undefined || c.items.filter((i) => i.state === 'waitlisted').length === e.waitlisted;
          });
          const c = find();
          const items = c?.items.length ? `; items: ${c.items.map((i) => `${i.agency} ${i.state}`).join(', ')}` : '';
          event({ from: 'mac-cases', to: 'scenario', type: `case of ${e.of}`, outcome: ok ? 'info' : 'refused', detail: c ? `${c.workflow}/${c.kind} is ${c.state}${items}` : 'no case' });
          expect(ok, `the case opened by ${e.of} must be ${e.state}${e.confirmed !== undefined ? ` with ${e.confirmed} confirmed` : ''}${e.waitlisted !== undefined ? ` and ${e.waitlisted} waitlisted` : ''} (is ${c?.state ?? 'absent'})`);
          return;
        }
        case 'expect-correlation': {
          const ok = await waitFor(() => e.agencies.every((a) => inbox.some((r) => r.agency === a && r.msg.type === 'CorrelationAlert')), 8_000);
          printNotices();
          expect(ok, `a CorrelationAlert must reach ${e.agencies.join(' and ')}`);
          return;
        }
        case 'expect-notice': {
          const id = e.about ? names.get(e.about) : undefined;
          const ref = id ? workflows?.cases().find((c) => c.applied.includes(id))?.ref : undefined;
          const ok = await waitFor(() => inbox.some((r) => r.agency === e.to && r.msg.type === e.type && (!e.about || r.msg.body.caseRef === ref)));
          printNotices();
          expect(ok, `${e.to} must receive a ${e.type}${e.about ? ` about the case of ${e.about}` : ''}`);
          return;
        }
        case 'strategic-report': {
          if (!centre) {
            expect(false, 'a strategic report needs the multiagency centre (an agency keeping state: { kv: [correlations] })');
            return;
          }
          const r = await centre.report({ publish: true });
          t.note(`the centre's report: ${r.figures.sourceMessages.count} source messages, ${r.figures.migrants.count} migrants reported, ${r.figures.linksTotal.count} new links; published as ${r.published ?? '(not published)'}`);
          const ok = await waitFor(() => Object.keys(e.tiers).every((a) => inbox.some((x) => x.agency === a && x.msg.type === 'StrategicReport' && x.msg.header.id === r.published)));
          for (const [agency, tier] of Object.entries(e.tiers)) {
            const got = inbox.find((x) => x.agency === agency && x.msg.type === 'StrategicReport' && x.msg.header.id === r.published);
            event({ from: 'mac-centre', to: agency, type: 'StrategicReport', tier: got?.msg.header.tier, outcome: got ? 'delivered' : 'refused', detail: got ? `${Object.keys(got.msg.body).length} fields at ${got.msg.header.tier}` : 'NOT DELIVERED' });
            expect(got?.msg.header.tier === tier, `${agency} should receive the strategic report at the ${tier} tier (got ${got?.msg.header.tier ?? 'nothing'})`);
          }
          expect(ok, 'the strategic report must reach every listed agency');
          return;
        }
        case 'rogue':
          return playRogue(e);
        case 'tamper':
          return playTamper(e);
        case 'revoke':
          return playRevoke(e);
        case 'retract':
        case 'correct':
          return playRetract(e);
      }
    }

    async function playSend(e: Extract<ScenarioEvent, { kind: 'send' }>): Promise<void> {
      const from = client(e.from);
      const body = resolveTemplate(e.body, names, sim.now()) as Record<string, unknown>;
      const opts: SendOptions = {
        ...(e.to ? { to: e.to } : {}),
        ...(e.tlp ? { tlp: e.tlp } : {}),
        ...(e.handling ? { handling: e.handling } : {}),
        ...(e.caseRef ? { caseRef: e.caseRef } : {}),
        ...(e.causation ? { causationId: names.get(e.causation) ?? '' } : {}),
      };
      if (e.expect.refused) {
        try {
          await from.send(e.type, body, opts);
          result.sent++;
          expect(false, `${e.from} sending ${e.type} should have been refused with ${e.expect.refused}`);
        } catch (err) {
          const code = isLiaisonError(err) ? err.code : 'ERR_INTERNAL';
          refuse(code);
          result.decisions.push({ at: now(), from: e.from, type: e.type, to: e.to ?? 'all', outcome: `refused ${code}: ${(err as Error).message.split('\n')[0]}`, copies: [] });
          event({ from: e.from, to: e.to ?? 'all', type: e.type, outcome: 'refused', detail: `${code} by the sending SDK — ${(err as Error).message.split('\n')[0]}` });
          expect(code === e.expect.refused, `${e.type} from ${e.from}: expected ${e.expect.refused}, got ${code}`);
        }
        return;
      }
      const before = inbox.length;
      const receipt = await from.send(e.type, body, opts);
      result.sent++;
      if (e.name) names.set(e.name, receipt.id);
      result.decisions.push({ at: now(), from: e.from, type: e.type, to: e.to ?? 'all', outcome: 'sent', copies: receipt.copies.map((c) => ({ tier: c.tier, recipients: c.recipients })) });
      const expected = receipt.copies.flatMap((c) => c.recipients.map((r) => ({ agency: r, tier: c.tier })));
      await waitFor(() => expected.every((x) => inbox.slice(before).some((r) => r.agency === x.agency && r.msg.header.id === receipt.id)));
      const info = catalog.get(e.type);
      for (const x of expected) {
        const got = inbox.slice(before).find((r) => r.agency === x.agency && r.msg.header.id === receipt.id);
        const hidden = info.fields.length - fieldsAt(info, x.tier as Tier).filter((f) => !f.includes('.')).length;
        event({
          from: e.from,
          to: x.agency,
          type: e.type,
          tier: x.tier,
          outcome: got ? 'delivered' : 'refused',
          detail: got ? `${Object.keys(got.msg.body).length} fields seen${hidden > 0 ? `, ${hidden} withheld above ${x.tier}` : ''}` : 'NOT DELIVERED',
        });
        expect(Boolean(got), `${x.agency} should receive ${e.type} from ${e.from}`);
      }
      for (const [agency, tier] of Object.entries(e.expect.tiers ?? {})) {
        const got = inbox.slice(before).find((r) => r.agency === agency && r.msg.header.id === receipt.id);
        expect(got?.msg.header.tier === tier, `${agency} should see ${e.type} at the ${tier} tier (saw ${got?.msg.header.tier ?? 'nothing'})`);
      }
      for (const [agency, fields] of Object.entries(e.expect.withheld ?? {})) {
        const got = inbox.slice(before).find((r) => r.agency === agency && r.msg.header.id === receipt.id);
        const leaked = fields.filter((f) => got && f in got.msg.body);
        expect(Boolean(got) && leaked.length === 0, `${agency}'s copy of ${e.type} must not carry ${fields.join(', ')}${leaked.length ? ` (carries ${leaked.join(', ')})` : ''}`);
      }
      if (e.expect.notSeen?.length) await new Promise((r) => setTimeout(r, 100));
      for (const agency of e.expect.notSeen ?? []) {
        const leaked = inbox.some((r) => r.agency === agency && r.msg.header.id === receipt.id);
        expect(!leaked, `${agency} must not see ${e.type}`);
        if (!leaked) t.note(`${agency} did not receive it (no permission on any of its subjects)`);
      }
      if (e.expect.rejected) {
        const ok = await waitFor(() => inbox.some((r) => r.agency === e.from && r.msg.type === 'WorkflowRejection' && r.msg.body.causeMessageId === receipt.id));
        const r = inbox.find((x) => x.agency === e.from && x.msg.type === 'WorkflowRejection' && x.msg.body.causeMessageId === receipt.id);
        if (r) refuse(String(r.msg.body.code));
        expect(ok && r?.msg.body.code === e.expect.rejected, `the case registry should refuse ${e.type} from ${e.from} with ${e.expect.rejected} (got ${String(r?.msg.body.code ?? 'nothing')})`);
      }
      if (e.expect.caseState) {
        const ok = await waitFor(() => workflows?.cases().some((c) => c.applied.includes(receipt.id) && c.state === e.expect.caseState && c.outbox.length === 0) ?? false);
        expect(ok, `${e.type} from ${e.from} should leave its case ${e.expect.caseState} (is ${workflows?.cases().find((c) => c.applied.includes(receipt.id))?.state ?? 'no case'})`);
      }
    }

    async function playCheck(e: Extract<ScenarioEvent, { kind: 'check-document' }>): Promise<void> {
      const before = inbox.length;
      const reply = await client(e.from).request('DocumentCheckRequest', { documentNumber: e.number, issuingCountry: e.country, ...(e.location ? { checkLocation: e.location } : {}) });
      const hit = reply.body.outcome === 'CHECK_OUTCOME_HIT';
      event({ from: reply.header.sender, to: e.from, type: 'DocumentCheckResult', tier: reply.header.tier, outcome: 'delivered', detail: hit ? `HIT — ${String(reply.body.status).replace('DOCUMENT_STATUS_', '').toLowerCase()}, signed reply bound to the request` : 'no hit' });
      expect(hit === (e.expect.outcome === 'hit'), `checking ${e.country} ${e.number} should give ${e.expect.outcome}`);
      if (e.expect.notified) {
        const who = e.expect.notified;
        expect(await waitFor(() => inbox.slice(before).some((r) => r.agency === who && r.msg.type === 'DocumentHitNotice')), `${who} must receive the hit notice`);
      }
    }

    async function playRogue(e: Extract<ScenarioEvent, { kind: 'rogue' }>): Promise<void> {
      const creds = await readPrivateFile(join(work, 'agencies', e.as, 'nats.creds'));
      // A raw client with the agency's own creds and CA: the broker, not the SDK, must refuse what follows.
      const raw = await connect({ servers: exchange!.url, ...natsTlsOptions(await readAgencyCa(join(work, 'agencies', e.as), {}), exchange!.url), authenticator: credsAuthenticator(new Uint8Array(creds)), inboxPrefix: inboxPrefix(e.as), reconnect: false });
      const violations: string[] = [];
      void (async () => {
        for await (const st of raw.status()) if (st.type === 'error' && st.error instanceof errors.PermissionViolationError) violations.push(st.error.subject);
      })();
      for (const a of e.attempts) {
        if (a.op === 'pub') raw.publish(a.subject, 'x');
        else if (a.op === 'sub') raw.subscribe(a.subject);
        else await raw.request(a.subject, '', { timeout: 1_000 }).catch(() => undefined);
        const refused = await waitFor(() => violations.includes(a.subject), 2_000);
        if (refused) refuse('NATS Permissions Violation');
        event({ from: e.as, to: 'broker', type: a.what, outcome: refused ? 'refused' : 'delivered', detail: refused ? 'Permissions Violation (by nats-server)' : 'NOT REFUSED' });
        expect(refused, `the broker must refuse: ${a.what}`);
      }
      await raw.close();
    }

    async function playTamper(e: Extract<ScenarioEvent, { kind: 'tamper' }>): Promise<void> {
      const target = client(e.to);
      const rejectedBefore = Object.values(target.stats.rejected).reduce((a, b) => a + (b ?? 0), 0);
      const codesBefore = { ...target.stats.rejected };
      const sealed = client(e.from).seal(e.type, resolveTemplate(e.body, names, sim.now()), { to: e.to });
      for (const c of sealed.copies) c.data[c.data.length - 10]! ^= 0x01; // inside the signature
      await client(e.from).publishSealed(sealed);
      result.sent++;
      const rejected = await waitFor(() => Object.values(target.stats.rejected).reduce((a, b) => a + (b ?? 0), 0) > rejectedBefore);
      // A service consuming for the agency (the centre) has no scenario hook on its rejections: report them here.
      if (!result.events.some((x) => x.outcome === 'rejected' && x.to === e.to && x.step === step)) {
        for (const [code, n] of Object.entries(target.stats.rejected)) {
          if ((n ?? 0) > (codesBefore[code as keyof typeof codesBefore] ?? 0)) {
            refuse(code);
            event({ from: e.from, to: e.to, type: e.type, tier: sealed.copies[0]?.tier, outcome: 'rejected', detail: `${code} (quarantined)` });
          }
        }
      }
      expect(rejected && !inbox.some((r) => r.msg.header.id === sealed.id), `${e.to} must reject the corrupted copy`);
    }

    /** Retract or correct a named message; every prior recipient must acknowledge with a signed receipt. */
    async function playRetract(e: Extract<ScenarioEvent, { kind: 'retract' | 'correct' }>): Promise<void> {
      const id = names.get(e.message);
      if (!id) return expect(false, `${e.kind}: no message named "${e.message}" was sent before`);
      const c = client(e.as);
      const caseRef = workflows?.cases().find((x) => x.applied.includes(id))?.ref;
      const reason = e.reason ?? (e.kind === 'correct' ? 'corrected' : 'retracted');
      let out: RetractOutcome & { correctedId?: string };
      try {
        out = e.kind === 'correct' ? await c.correct(id, resolveTemplate(e.body ?? {}, names, sim.now()), reason) : await c.retract(id, reason);
      } catch (err) {
        const code = isLiaisonError(err) ? err.code : 'ERR_INTERNAL';
        refuse(code);
        event({ from: e.as, to: 'exchange', type: e.kind === 'correct' ? 'correction' : 'retraction', outcome: 'refused', detail: `${code} — ${(err as Error).message.split('\n')[0]}` });
        return expect(false, `${e.as} should be able to ${e.kind} ${e.message}: ${code}`);
      }
      result.sent++;
      if (out.correctedId) {
        if (e.name) names.set(e.name, out.correctedId);
        result.sent++;
      }
      const replaced = out.correctedId ? `, replaced by ${out.correctedId}` : '';
      t.note(`${e.as} ${e.kind === 'correct' ? 'corrects' : 'retracts'} ${out.record.originalType} ${id}${replaced}: the exchange deleted ${out.record.copies.length} stored cop${out.record.copies.length === 1 ? 'y' : 'ies'}; ${out.record.recipients.length} prior recipient(s)${out.record.withheld.length ? `, ${out.record.withheld.length} never delivered` : ''}`);
      let status = out.record;
      const acked = () => status.recipients.every((r) => r.acknowledgedAt);
      for (let i = 0; i < 50 && !acked(); i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = await c.retractionStatus(id);
      }
      for (const r of status.recipients) {
        event({ from: e.as, to: r.agency, type: 'Retraction', tier: 'operational', outcome: r.acknowledgedAt ? 'delivered' : 'refused', detail: r.acknowledgedAt ? 'handled; signed receipt returned' : 'NO RECEIPT' });
      }
      expect(acked(), `every prior recipient of ${e.message} should acknowledge its retraction (missing: ${status.recipients.filter((r) => !r.acknowledgedAt).map((r) => r.agency).join(', ')})`);
      await expectAlertsSettled(e);
      if (e.expect.caseState) {
        const ok = await waitFor(() => workflows?.cases().some((x) => x.ref === caseRef && x.state === e.expect.caseState && x.outbox.length === 0) ?? false);
        expect(ok, `after the ${e.kind === 'correct' ? 'correction' : 'retraction'} of ${e.message}, its case should be ${e.expect.caseState} (is ${workflows?.cases().find((x) => x.ref === caseRef)?.state ?? 'no case'})`);
      }
    }

    /** The centre's retractions and corrections of the correlation alerts that stood on a retracted message. */
    async function expectAlertsSettled(e: Extract<ScenarioEvent, { kind: 'retract' | 'correct' }>): Promise<void> {
      const wanted = [...(e.expect.alertsRetracted ?? []).map((a) => [a, false] as const), ...(e.expect.alertsCorrected ?? []).map((a) => [a, true] as const)];
      if (wanted.length === 0) return;
      const centreId = centreAgency ?? '?';
      const settled = (agency: string, corrected: boolean) =>
        inbox.find((r) => {
          if (r.agency !== agency || r.msg.type !== 'Retraction' || r.msg.header.sender !== centreId) return false;
          const alert = inbox.find((x) => x.agency === agency && x.msg.type === 'CorrelationAlert' && x.msg.header.id === r.msg.body.originalId);
          const replacedBy = String(r.msg.body.replacedBy ?? '');
          return !!alert && (corrected ? !!replacedBy && inbox.some((x) => x.agency === agency && x.msg.header.id === replacedBy) : !replacedBy);
        });
      await waitFor(() => wanted.every(([a, c]) => settled(a, c)));
      for (const [agency, corrected] of wanted) {
        const r = settled(agency, corrected);
        const ref = r ? String(inbox.find((x) => x.msg.header.id === r.msg.body.originalId)?.msg.body.alertReference ?? '') : '';
        event({
          from: centreId,
          to: agency,
          type: 'Retraction',
          tier: r?.msg.header.tier,
          outcome: r ? 'delivered' : 'refused',
          detail: r ? `its correlation alert ${ref} ${corrected ? `corrected (replaced by ${String(r.msg.body.replacedBy)})` : 'withdrawn: no longer part of the link'}` : 'NOT DONE',
        });
        expect(!!r, `the centre should ${corrected ? 'correct' : 'retract'} ${agency}'s correlation alert after the ${e.kind === 'correct' ? 'correction' : 'retraction'} of ${e.message}`);
      }
    }

    async function playRevoke(e: Extract<ScenarioEvent, { kind: 'revoke' }>): Promise<void> {
      const victim = client(e.agency);
      let cutAt = 0;
      void (async () => {
        for await (const st of victim.nc.status()) if ((st.type === 'disconnect' || st.type === 'error') && !cutAt) cutAt = Date.now();
      })();
      const revokedAt = Date.now();
      await exchange!.revoke(e.agency);
      const cut = await waitFor(() => cutAt > 0 || victim.nc.isClosed(), 5_000);
      event({ from: 'exchange', to: e.agency, type: 'revocation', outcome: 'info', detail: cut ? `signed revocation list pushed; live NATS session cut ${cutAt - revokedAt} ms after the revocation` : 'session still open' });
      expect(cut, `revoked agency ${e.agency} must be disconnected`);
      try {
        await LiaisonClient.connect({ agencyDir: join(work, 'agencies', e.agency), catalog, reconnect: false });
        expect(false, `revoked agency ${e.agency} must not reconnect`);
      } catch (err) {
        const code = isLiaisonError(err) ? err.code : 'ERR_INTERNAL';
        refuse(`reconnect ${code}`);
        event({ from: e.agency, to: 'broker', type: 'reconnect', outcome: 'refused', detail: `${code} (Authorization Violation)` });
      }
    }

    result.cases = (workflows?.cases() ?? []).map((c) => ({ ref: c.ref, workflow: c.workflow, kind: c.kind, state: c.state, requester: c.requester, requested: c.requested, steps: c.timeline.length }));
    summary(t, result);
    return result;
  } finally {
    await workflows?.stop().catch(() => undefined);
    await centre?.stop().catch(() => undefined);
    await registry?.stop().catch(() => undefined);
    for (const c of clients.values()) await c.close().catch(() => undefined);
    await exchange?.stop().catch(() => undefined);
    if (!o.keep) await rm(work, { recursive: true, force: true });
  }
}

function summary(t: Timeline, r: ScenarioResult): void {
  t.step('Summary');
  t.note(`messages sent: ${r.sent}; copies received with their signatures verified: ${r.verified}`);
  t.note(`refusals: ${Object.entries(r.refusals).map(([k, v]) => `${k} ×${v}`).join(', ') || 'none'}`);
  const byState = new Map<string, number>();
  for (const c of r.cases) byState.set(`${c.workflow} ${c.state}`, (byState.get(`${c.workflow} ${c.state}`) ?? 0) + 1);
  t.note(`workflow outcomes: ${[...byState].map(([k, v]) => `${k} ×${v}`).join(', ') || 'none'}`);
  if (r.correlations.length) t.note(`correlation alerts delivered: ${r.correlations.length}`);
  const types = [...new Set(Object.values(r.saw).flatMap((m) => Object.keys(m)))].sort();
  t.step('Who saw what (tier of the copy each agency received)');
  t.note(`${''.padEnd(17)} ${types.map((x) => x.slice(0, 14).padEnd(14)).join(' ')}`);
  for (const a of r.agencies) t.note(`${a.padEnd(17)} ${types.map((x) => (r.saw[a]?.[x] ?? '—').padEnd(14)).join(' ')}`);
  t.step(r.failures.length === 0 ? 'All expectations held.' : `${r.failures.length} expectation(s) failed:`);
  for (const f of r.failures) t.note(f);
}
