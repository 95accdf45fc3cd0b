import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, credsAuthenticator, errors } from '@nats-io/transport-node';
import { enrolFromPolicy } from '../exchange/admin.ts';
import { startExchange, type RunningExchange } from '../exchange/exchange.ts';
import { freePort } from '../exchange/nats-process.ts';
import { LiaisonClient } from '../sdk/client/client.ts';
import { typeCatalogOf } from '../sdk/client/type-catalog.ts';
import type { ReceivedMessage } from '../sdk/envelope/open.ts';
import type { SendOptions } from '../sdk/envelope/seal.ts';
import { isLiaisonError } from '../sdk/errors.ts';
import { silentLogger, type Logger } from '../sdk/logging.ts';
import { fieldsAt, loadCatalog } from '../sdk/schema/index.ts';
import { agencyBuckets, agencyServes } from '../sdk/policy/index.ts';
import { OffsetClock } from '../sdk/clock.ts';
import { startWorkflows, workflowTypes, type Workflows } from '../workflows/service.ts';
import { registryState } from '../registry/state.ts';
import { REGISTRY_TYPES, startRegistry, type Registry } from '../registry/service.ts';
import { inboxPrefix } from '../sdk/subjects.ts';
import type { Tier } from '../sdk/tier.ts';
import { initFederation, readPrivateFile } from '../trust/index.ts';
import { createTimeline, type Timeline } from './timeline.ts';
import { SCRIPT, type DemoStep } from './script.ts';

/** The default demo policy. */
export const DEMO_POLICY = join(import.meta.dirname, '../../deploy/policies/federation.yaml');

/** What the demo observed; `failures` empty means every expectation held. */
export interface DemoResult {
  failures: string[];
  sent: number;
  verified: number;
  refusals: Record<string, number>;
  /** agency → type → tier it saw. */
  saw: Record<string, Record<string, Tier>>;
}

interface Received {
  agency: string;
  msg: ReceivedMessage;
}

/**
 * The first `npm start`: a throwaway federation from the example policy, a real local exchange,
 * every agency enrolled and connected, a scripted exchange of messages, refusals by the SDK, the
 * broker and receivers, a revocation — printed as a timeline, then a who-saw-what summary.
 * Everything it starts it stops; everything it creates it removes.
 */
export async function runDemo(o: { out: (line: string) => void; logger?: Logger; policyFile?: string; keep?: boolean }): Promise<DemoResult> {
  const logger = o.logger ?? silentLogger();
  const t = createTimeline(o.out);
  const work = await mkdtemp(join(tmpdir(), 'liaison-demo-'));
  const trustDir = join(work, 'trust');
  const catalog = loadCatalog();
  const tc = typeCatalogOf(catalog);
  const result: DemoResult = { failures: [], sent: 0, verified: 0, refusals: {}, saw: {} };
  const clients = new Map<string, LiaisonClient>();
  let exchange: RunningExchange | undefined;
  let registry: Registry | undefined;
  let workflows: Workflows | undefined;
  const simClock = new OffsetClock();
  const sentIds: Record<string, string> = {};
  const inbox: Received[] = [];
  const expect = (ok: boolean, what: string) => {
    if (!ok) {
      result.failures.push(what);
      t.note(`EXPECTATION FAILED: ${what}`);
    }
  };
  const refuse = (code: string) => {
    result.refusals[code] = (result.refusals[code] ?? 0) + 1;
  };

  try {
    const policyText = await readFile(o.policyFile ?? DEMO_POLICY, 'utf8');
    await initFederation({ dir: trustDir, policyText, federationName: 'mediterranean-pilot' });
    const port = await freePort();
    exchange = await startExchange({ trustDir, storeDir: join(work, 'store'), port, catalog: tc, logger });
    const policy = exchange.policy;
    t.step(`Federation "${policy.name}" — exchange up at ${exchange.url} (policy ${policy.hash.slice(0, 19)}…)`);
    t.note(`${exchange.provisioned.streams.length} streams, ${exchange.provisioned.consumers.length} durable consumers compiled from the policy`);

    for (const [id, a] of Object.entries(policy.agencies)) {
      const out = join(work, 'agencies', id);
      await enrolFromPolicy({ trustDir, agencyId: id, out, catalog: tc, servers: [exchange.url] });
      await exchange.directory.refresh();
      const client = await LiaisonClient.connect({ agencyDir: out, catalog, logger });
      clients.set(id, client);
      const record = (msg: ReceivedMessage) => {
        inbox.push({ agency: id, msg });
        result.verified++;
        (result.saw[id] ??= {})[msg.type] = msg.header.tier;
      };
      const runsRegistry = agencyServes(policy, id).includes('DocumentCheckRequest');
      if (runsRegistry) {
        registry = await startRegistry({ client, ...registryState(), logger, observe: record });
      }
      const runsCases = agencyBuckets(policy, id).some((b) => b.kind === 'kv' && b.name === 'cases');
      if (runsCases) workflows = await startWorkflows({ client, logger, clock: simClock, tickMs: 0, observe: record });
      const ownTypes = [...(runsRegistry ? REGISTRY_TYPES : []), ...(runsCases ? workflowTypes() : [])];
      await client.consume(
        record,
        {
          types: client.consumerSpecs().map((c) => c.type).filter((t) => !ownTypes.includes(t)),
          onReject: (r) => {
            refuse(r.code);
            t.event({ from: r.claimedSender ?? '?', to: id, type: r.subject.split('.')[4] ?? '?', tier: r.subject.split('.')[2], outcome: 'rejected', detail: `${r.code} (quarantined)` });
          },
        },
      );
      const runs = runsRegistry ? '  — runs the ¶16 document registry' : runsCases ? '  — runs the case registry (¶13–15 workflows)' : '';
      t.note(`enrolled and connected ${id.padEnd(17)} ${a.country}  roles: ${a.roles.join(', ')}${runs}`);
    }

    const waitFor = async (pred: () => boolean, ms = 5_000) => {
      const end = Date.now() + ms;
      while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      return pred();
    };

    for (const step of SCRIPT) {
      t.step(step.title);
      await playStep(step);
      if (step.type === 'DocumentReport') await registryCheck();
    }

    async function registryCheck(): Promise<void> {
      t.step('¶16 — xb-police checks the passport presented at the Bellmark ferry terminal against the registry');
      const before = inbox.length;
      const reply = await clients.get('xb-police')!.request('DocumentCheckRequest', {
        documentNumber: 'xa 441 7702',
        issuingCountry: 'XAA',
        checkLocation: 'Bellmark ferry terminal',
        presenterName: 'Amir Haddad',
      });
      const hit = reply.body.outcome === 'CHECK_OUTCOME_HIT';
      t.event({ from: reply.header.sender, to: 'xb-police', type: 'DocumentCheckResult', tier: reply.header.tier, outcome: hit ? 'delivered' : 'refused', detail: hit ? `HIT — ${String(reply.body.status).replace('DOCUMENT_STATUS_', '').toLowerCase()}, signed reply bound to the request` : 'no hit' });
      expect(hit, 'the border check must hit the reported passport');
      const notified = await waitFor(() => inbox.slice(before).some((r) => r.agency === 'xa-border-police' && r.msg.type === 'DocumentHitNotice'));
      const notice = inbox.slice(before).find((r) => r.agency === 'xa-border-police' && r.msg.type === 'DocumentHitNotice');
      t.event({ from: notice?.msg.header.sender ?? 'registry', to: 'xa-border-police', type: 'DocumentHitNotice', tier: notice?.msg.header.tier, outcome: notified ? 'delivered' : 'refused', detail: notified ? `owner told: checked by ${String(notice!.msg.body.checkingAgency)} at ${String(notice!.msg.body.checkLocation)}` : 'NOT DELIVERED' });
      expect(notified, 'the record owner must receive the hit notice');
    }

    async function playStep(step: DemoStep): Promise<void> {
      const client = clients.get(step.from)!;
      const opts: SendOptions = { to: step.to, handling: step.handling, tlp: step.tlp, caseRef: step.caseRef };
      if (step.expect === 'sent') {
        const before = inbox.length;
        const receipt = await client.send(step.type, step.body, opts);
        result.sent++;
        sentIds[step.type] ??= receipt.id;
        const expected = receipt.copies.flatMap((c) => c.recipients.map((r) => ({ agency: r, tier: c.tier })));
        await waitFor(() => expected.every((e) => inbox.slice(before).some((r) => r.agency === e.agency && r.msg.header.id === receipt.id)));
        for (const e of expected) {
          const got = inbox.slice(before).find((r) => r.agency === e.agency && r.msg.header.id === receipt.id);
          const info = catalog.get(step.type);
          const hidden = info.fields.length - fieldsAt(info, e.tier as Tier).filter((f) => !f.includes('.')).length;
          t.event({
            from: step.from,
            to: e.agency,
            type: step.type,
            tier: e.tier,
            outcome: got ? 'delivered' : 'refused',
            detail: got ? `${Object.keys(got.msg.body).length} fields seen${hidden > 0 ? `, ${hidden} withheld above ${e.tier}` : ''}` : 'NOT DELIVERED',
          });
          expect(Boolean(got), `${e.agency} should receive ${step.type} from ${step.from}`);
          if (got && step.check) expect(step.check(e.agency, got.msg), `${step.type} to ${e.agency}: ${step.checkLabel}`);
        }
        for (const agency of step.mustNotSee ?? []) {
          await new Promise((r) => setTimeout(r, 100));
          const leaked = inbox.some((r) => r.agency === agency && r.msg.header.id === receipt.id);
          expect(!leaked, `${agency} must not see ${step.type}`);
          if (!leaked) t.note(`${agency} did not receive it (no permission on any of its subjects)`);
        }
        return;
      }
      try {
        await client.send(step.type, step.body, opts);
        result.sent++;
        expect(false, `${step.from} sending ${step.type} should have been refused with ${step.expect}`);
      } catch (err) {
        const code = isLiaisonError(err) ? err.code : 'ERR_INTERNAL';
        refuse(code);
        t.event({ from: step.from, to: step.to ?? 'all', type: step.type, outcome: 'refused', detail: `${code} by the sending SDK — ${(err as Error).message.split('\n')[0]}` });
        expect(code === step.expect, `${step.type} from ${step.from}: expected ${step.expect}, got ${code}`);
      }
    }

    if (workflows) await playWorkflows(workflows);

    async function playWorkflows(wf: Workflows): Promise<void> {
      const notices = (type: string) => inbox.filter((r) => r.msg.type === type);
      const stateOf = (ref: string) => wf.cases().find((c) => c.ref === ref)?.state;
      const show = (agency: string, type: string, body: Record<string, unknown>) => {
        const detail =
          type === 'WorkflowStateChange'
            ? `${String(body.caseRef).split('.')[0]}: ${String(body.fromState) || '∅'} → ${String(body.toState)}${body.note ? ` (${String(body.note)})` : ''}`
            : type === 'WorkflowRejection'
              ? `${String(body.code)}: ${String(body.reason)}`
              : type === 'WorkflowReminder'
                ? `${String(body.awaited)} was due ${String(body.dueAt).slice(0, 10)}`
                : `${String(body.overdueParty)} overdue with ${String(body.awaited)}`;
        t.event({ from: 'mac-cases', to: agency, type, tier: 'operational', outcome: type === 'WorkflowRejection' ? 'refused' : 'info', detail });
      };
      const act = async (from: string, type: string, body: Record<string, unknown>, to: string, wait: (before: number) => boolean, what: string, opts: SendOptions = {}) => {
        const before = inbox.length;
        const r = await clients.get(from)!.send(type, body, { to, ...opts });
        result.sent++;
        const ok = await waitFor(() => wait(before));
        for (const n of inbox.slice(before)) if (n.msg.type.startsWith('Workflow') && n.msg.body.causeMessageId === r.id) show(n.agency, n.msg.type, n.msg.body);
        expect(ok, what);
        return r.id;
      };
      const changed = (id: string, n = 2) => (before: number) => inbox.slice(before).filter((r) => r.msg.type === 'WorkflowStateChange' && (r.msg.body.causeMessageId === id || id === '*')).length >= n;

      const referral = sentIds.CaseReferral!;
      const refCase = `case-referral.${referral}`;
      t.step('¶13–15 — the case registry (mac-cases) tracks each conversation as a case; it saw the referral and the MLA request');
      expect(await waitFor(() => stateOf(refCase) === 'referred' && stateOf(`mla-request.${sentIds.MutualLegalAssistanceRequest}`) === 'requested'), 'the case registry must open the referral and MLA cases');
      for (const c of wf.cases()) t.note(`${c.ref.slice(0, 40).padEnd(40)} ${c.workflow}/${c.kind}  ${c.state}  ${c.requester} → ${c.requested}`);

      t.step('An illegal transition: the NGO closes the referral before accepting it — refused, the case unchanged');
      const early = await act('xa-ngo-harbour', 'ReferralClosure', { referralId: referral, outcome: 'REFERRAL_OUTCOME_COMPLETED' }, 'xa-border-police',
        (b) => inbox.slice(b).some((r) => r.msg.type === 'WorkflowRejection'), 'an early closure must be refused with a signed WorkflowRejection');
      refuse('ERR_WORKFLOW_ILLEGAL_TRANSITION');
      expect(stateOf(refCase) === 'referred' && !wf.cases().find((c) => c.ref === refCase)!.applied.includes(early), 'the refused closure must leave the case unchanged');

      t.step('The NGO acknowledges and accepts the referral; both parties are told each state change');
      let id = await act('xa-ngo-harbour', 'ReferralAcknowledgement', { referralId: referral, recipientReference: 'HL-2026-118' }, 'xa-border-police', (b) => changed('*')(b), 'acknowledgement applied');
      id = await act('xa-ngo-harbour', 'ReferralDecision', { referralId: referral, decision: 'REFERRAL_DECISION_KIND_ACCEPTED', assignedProgramme: 'shelter and legal aid' }, 'xa-border-police', (b) => changed('*')(b), 'acceptance applied');
      void id;
      expect(stateOf(refCase) === 'accepted', 'the referral case must be accepted');

      t.step('¶13, ¶9(c) — Bellmark executes the MLA request in part: the accounts are frozen, the rest follows');
      const mla = sentIds.MutualLegalAssistanceRequest!;
      const mlaCase = `mla-request.${mla}`;
      await act('xb-prosecutor', 'MutualLegalAssistanceResponse', {
        requestId: mla, status: 'EXECUTION_STATUS_PARTIALLY_EXECUTED', executedMeasures: ['MEASURE_FREEZING'], reasons: 'bank records need a court order',
        expectedCompletion: new Date(simClock.now() + 21 * 86_400_000).toISOString(),
      }, 'xa-prosecutor', (b) => changed('*')(b), 'partial execution applied');
      expect(stateOf(mlaCase) === 'partially-executed', 'the MLA case must be partially executed');

      t.step('¶8, ¶14 — xc-training offers 2 seats on evidence gathering at interception; three agencies enrol');
      const before = inbox.length;
      await clients.get('xc-training')!.send('TrainingOffer', {
        courseCode: 'EVI-2027-01', title: 'Evidence gathering from the point of interception', seats: 2,
        eligibleRoles: ['TRAINEE_ROLE_BORDER_OFFICER', 'TRAINEE_ROLE_INVESTIGATOR', 'TRAINEE_ROLE_PROSECUTOR'], enrolBy: new Date(simClock.now() + 30 * 86_400_000).toISOString(),
      }, { to: 'all' });
      result.sent++;
      await waitFor(() => changed('*', 1)(before));
      for (const [agency, role] of [['xa-border-police', 'TRAINEE_ROLE_BORDER_OFFICER'], ['xa-coast-guard', 'TRAINEE_ROLE_BORDER_OFFICER'], ['xa-prosecutor', 'TRAINEE_ROLE_PROSECUTOR']] as const) {
        await act(agency, 'EnrolmentRequest', { courseCode: 'EVI-2027-01', traineeName: 'Officer on duty', traineeRole: role }, 'xc-training', (b) => changed('*')(b), `${agency}'s enrolment applied`);
      }
      const course = wf.cases().find((c) => c.workflow === 'training');
      expect(course?.items.filter((i) => i.state === 'confirmed').length === 2 && course.items.filter((i) => i.state === 'waitlisted').length === 1, 'two seats confirmed, one on the waiting list');

      t.step('Three weeks pass (simulated clock): the MLA completion date is missed — a reminder, then an escalation to the multiagency centre');
      simClock.advance(22 * 86_400_000);
      let b2 = inbox.length;
      await wf.tick();
      expect(await waitFor(() => inbox.slice(b2).some((r) => r.msg.type === 'WorkflowReminder' && r.agency === 'xb-prosecutor')), 'xb-prosecutor must be reminded');
      for (const n of inbox.slice(b2)) if (n.msg.type === 'WorkflowReminder') show(n.agency, n.msg.type, n.msg.body);
      simClock.advance(8 * 86_400_000);
      b2 = inbox.length;
      await wf.tick();
      expect(await waitFor(() => inbox.slice(b2).some((r) => r.msg.type === 'WorkflowEscalation' && r.agency === 'mac-centre')), 'the supervisor (mac-centre) must be told of the overdue MLA');
      for (const n of inbox.slice(b2)) if (n.msg.type === 'WorkflowEscalation' || n.msg.type === 'WorkflowReminder') show(n.agency, n.msg.type, n.msg.body);

      t.step('`liaison case list --as xa-border-police`: its cases, as the case registry answers it (signed)');
      const listed = await clients.get('xa-border-police')!.request('CaseQuery', {});
      for (const c of (listed.body.cases as Record<string, unknown>[]) ?? []) {
        t.note(`${String(c.workflow).padEnd(14)} ${String(c.kind).padEnd(12)} ${String(c.state).padEnd(12)} ${String(c.requester)} → ${String(c.requested)}  (${(c.timeline as unknown[]).length} steps)`);
      }
      expect(((listed.body.cases as unknown[]) ?? []).length >= 2, 'xa-border-police sees its referral and training cases');
      void notices;
    }

    t.step('A rogue integration of xa-ngo-harbour uses its own valid NATS credentials directly');
    const ngoCreds = await readPrivateFile(join(work, 'agencies', 'xa-ngo-harbour', 'nats.creds'));
    const raw = await connect({ servers: exchange.url, authenticator: credsAuthenticator(new Uint8Array(ngoCreds)), inboxPrefix: inboxPrefix('xa-ngo-harbour'), reconnect: false });
    const violations: string[] = [];
    void (async () => {
      for await (const s of raw.status()) if (s.type === 'error' && s.error instanceof errors.PermissionViolationError) violations.push(s.error.subject);
    })();
    const attempts = [
      { what: 'publish a DocumentReport as xa-border-police', subject: 'liaison.v1.operational.documents.DocumentReport.xa-border-police.all', op: 'pub' },
      { what: 'read special-tier case referrals addressed to it', subject: 'liaison.v1.special.referrals.CaseReferral.*.xa-ngo-harbour', op: 'sub' },
      { what: 'read intelligence broadcasts', subject: 'liaison.v1.operational.cooperation.IntelligenceReport.*.all', op: 'sub' },
      { what: 'list the JetStream streams', subject: '$JS.API.STREAM.NAMES', op: 'req' },
    ];
    for (const a of attempts) {
      if (a.op === 'pub') raw.publish(a.subject, 'x');
      else if (a.op === 'sub') raw.subscribe(a.subject);
      else await raw.request(a.subject, '', { timeout: 1_000 }).catch(() => undefined);
      const refused = await waitFor(() => violations.includes(a.subject), 2_000);
      if (refused) refuse('NATS Permissions Violation');
      t.event({ from: 'xa-ngo-harbour', to: 'broker', type: a.what, outcome: refused ? 'refused' : 'delivered', detail: refused ? 'Permissions Violation (by nats-server)' : 'NOT REFUSED' });
      expect(refused, `broker must refuse: ${a.what}`);
    }
    await raw.close();

    t.step('xa-coast-guard publishes a corrupted copy on its own subject (a bit flipped in transit)');
    const coast = clients.get('xa-coast-guard')!;
    const rejectedBefore = Object.values(clients.get('mac-centre')!.stats.rejected).reduce((a, b) => a + (b ?? 0), 0);
    const sealedIntel = await coast.send('IntelligenceReport', SCRIPT.find((s) => s.type === 'IntelligenceReport')!.body, { to: 'mac-centre', tlp: 'AMBER' });
    result.sent++;
    void sealedIntel;
    await waitFor(() => inbox.some((r) => r.msg.header.id === sealedIntel.id));
    const tampered = coast.seal('IntelligenceReport', SCRIPT.find((s) => s.type === 'IntelligenceReport')!.body, { to: 'mac-centre', tlp: 'AMBER' });
    for (const c of tampered.copies) c.data[c.data.length - 10]! ^= 0x01; // inside the signature
    await coast.publishSealed(tampered);
    result.sent++;
    const corrupt = tampered.id;
    const rejected = await waitFor(() => Object.values(clients.get('mac-centre')!.stats.rejected).reduce((a, b) => a + (b ?? 0), 0) > rejectedBefore);
    expect(rejected && !inbox.some((r) => r.msg.header.id === corrupt), 'mac-centre must reject the corrupted copy');

    t.step('The federation revokes xb-police (its credentials leaked)');
    const xb = clients.get('xb-police')!;
    let cutAt = 0;
    void (async () => {
      for await (const s of xb.nc.status()) if ((s.type === 'disconnect' || s.type === 'error') && !cutAt) cutAt = Date.now();
    })();
    const revokedAt = Date.now();
    await exchange.revoke('xb-police');
    const cut = await waitFor(() => cutAt > 0 || xb.nc.isClosed(), 5_000);
    t.event({
      from: 'exchange',
      to: 'xb-police',
      type: 'revocation',
      outcome: 'info',
      detail: cut ? `signed revocation list pushed; live NATS session cut by the server ${cutAt - revokedAt} ms after the revocation` : 'session still open',
    });
    expect(cut, 'revoked agency must be disconnected');
    try {
      await LiaisonClient.connect({ agencyDir: join(work, 'agencies', 'xb-police'), catalog, reconnect: false });
      expect(false, 'revoked agency must not reconnect');
    } catch (err) {
      const code = isLiaisonError(err) ? err.code : 'ERR_INTERNAL';
      refuse(`reconnect ${code}`);
      t.event({ from: 'xb-police', to: 'broker', type: 'reconnect', outcome: 'refused', detail: `${code} (Authorization Violation)` });
    }

    summary(t, result, [...clients.keys()]);
    return result;
  } finally {
    await registry?.stop().catch(() => undefined);
    await workflows?.stop().catch(() => undefined);
    for (const c of clients.values()) await c.close().catch(() => undefined);
    await exchange?.stop().catch(() => undefined);
    if (!o.keep) await rm(work, { recursive: true, force: true });
  }
}

function summary(t: Timeline, r: DemoResult, agencies: string[]): void {
  t.step('Summary');
  t.note(`messages sent: ${r.sent}; copies verified and delivered: ${r.verified}`);
  t.note(`refusals: ${Object.entries(r.refusals).map(([k, v]) => `${k} ×${v}`).join(', ') || 'none'}`);
  const types = [...new Set(Object.values(r.saw).flatMap((m) => Object.keys(m)))].sort();
  t.step('Who saw what (tier of the copy each agency received)');
  t.note(`${''.padEnd(17)} ${types.map((x) => x.slice(0, 14).padEnd(14)).join(' ')}`);
  for (const a of agencies) {
    t.note(`${a.padEnd(17)} ${types.map((x) => (r.saw[a]?.[x] ?? '—').padEnd(14)).join(' ')}`);
  }
  t.step(r.failures.length === 0 ? 'All expectations held.' : `${r.failures.length} expectation(s) failed:`);
  for (const f of r.failures) t.note(f);
}
