import type { CaseRecord, Refusal, TransitionContext, TransitionSpec, WorkflowDefinition, WorkflowMessage } from '../model.ts';
import { lackingSafeguards } from '../../sdk/envelope/safeguards.ts';
import { DESIGNATED_ROLE } from '../../sdk/policy/designated.ts';
import { byReference, enumTail, guardFail, list, text, time } from './read.ts';

const HOUR = 3_600_000;
const DECISION = 'BOARDING_DECISION_';
const isDecision = (...d: string[]) => (body: Record<string, unknown>) => d.map((x) => DECISION + x).includes(text(body, 'decision'));

/** The policy role of the one authority per state designated to answer boarding requests (Protocol art. 8(6)); `policy validate` refuses a second one in a state. */
export { DESIGNATED_ROLE };

/** Hours the flag state has to answer, by urgency, when the request gives no respond_by (art. 8(4): "expeditiously"). */
export const ANSWER_HOURS: Readonly<Record<string, number>> = { immediate: 1, urgent: 4, routine: 24 };
/** Hours the requesting state has to report the results of the measures (art. 8(3): "promptly"). */
export const REPORT_HOURS = 24;
/** Hours the requesting state has to supply information the flag state asked for. */
export const INFORMATION_HOURS = 12;

const OPEN = ['requested', 'registry-confirmed', 'information-requested'];
const TAKING_MEASURES = ['authorised', 'without-nationality'];

function answerHours(c: CaseRecord): number {
  return ANSWER_HOURS[c.kind] ?? ANSWER_HOURS.routine!;
}

/**
 * The art. 9 safeguards an authorisation or report lacks, as a refusal. The sending SDK refuses such a
 * message with the same check (sdk/envelope/safeguards.ts); this one holds against raw clients.
 */
function missingSafeguards(m: WorkflowMessage): Refusal | undefined {
  const reason = lackingSafeguards(m.type, m.body);
  return reason === undefined ? undefined : guardFail(reason);
}

/** The agencies of a state that hold the designated-authority role. */
function designatedOf(country: string, ctx: TransitionContext): string[] {
  return [...(ctx.directory ?? new Map()).entries()].filter(([, a]) => a.country === country && a.roles.includes(DESIGNATED_ROLE)).map(([id]) => id);
}

/**
 * Art. 8(6): each state designates one authority to receive and answer boarding requests. `agency`
 * must be that one authority of `country`; a state with none, or with more than one, cannot take part.
 */
function notTheDesignated(agency: string, country: string, as: string, ctx: TransitionContext): Refusal | undefined {
  const designated = designatedOf(country, ctx);
  if (designated.length === 0) return guardFail(`${country} has no designated authority for boarding requests (policy role ${DESIGNATED_ROLE}) (art. 8(6))`);
  if (designated.length > 1) {
    return guardFail(`${country} names ${designated.length} designated authorities (${designated.join(', ')}); art. 8(6) designates one: fix the policy`);
  }
  if (designated[0] !== agency) return guardFail(`the ${as} must be ${country}'s designated authority ${designated[0]} (art. 8(6)), not ${agency}`);
  return undefined;
}

/** Opening checks: what a request must say, and that it goes from one designated authority to the flag state's. */
function requestGuard(m: WorkflowMessage, ctx: TransitionContext): Refusal | undefined {
  const vessel = (m.body.vessel ?? {}) as Record<string, unknown>;
  if (!text(vessel, 'imoNumber') && !text(vessel, 'name')) return guardFail('a boarding request must identify the vessel (vessel.imo_number or vessel.name)');
  const flag = text(vessel, 'flagState').toUpperCase();
  if (!flag) return guardFail('a boarding request must name the flag the vessel flies or claims (vessel.flag_state); a vessel without nationality needs no authorisation (art. 8(7))');
  if (!text(m.body, 'grounds')) return guardFail('a boarding request must state the reasonable grounds to suspect smuggling of migrants (grounds) (art. 8(2))');
  if (list(m.body, 'measuresRequested').length === 0) return guardFail('a boarding request must list the measures asked for (measures_requested) (art. 8(2))');
  const sender = ctx.directory?.get(m.sender);
  const recipient = ctx.directory?.get(m.recipient);
  if (!sender || !recipient) return guardFail(`${m.sender} or ${m.recipient} is not an agency of the federation`);
  if (sender.country === flag) return guardFail(`the vessel flies ${flag}'s own flag: ${m.sender} needs no authorisation from its own state`);
  const from = notTheDesignated(m.sender, sender.country, 'requesting authority', ctx);
  if (from) return from;
  if (recipient.country !== flag) return guardFail(`the request must go to the flag state ${flag}'s designated authority, not to ${m.recipient} (${recipient.country})`);
  return notTheDesignated(m.recipient, flag, 'requested authority', ctx);
}

const response = (name: string, when: string[], to: string, extra: Partial<TransitionSpec> = {}): TransitionSpec => ({
  name,
  on: 'BoardingAuthorisationResponse',
  when: isDecision(...when),
  from: OPEN,
  to,
  by: ['requested'],
  ...extra,
});

/**
 * Boarding authorisation at sea (¶18; Smuggling of Migrants Protocol arts. 8–9): the requesting
 * state's designated authority asks the flag state's to confirm the vessel's registry and to
 * authorise boarding, search and measures; the flag state confirms or denies the registry (denied:
 * the vessel may be treated as without nationality, art. 8(7)), authorises — possibly on conditions
 * (art. 8(5)) —, refuses with reasons, or asks for more information. Answers are due within hours
 * set by urgency; the requesting state then reports the results promptly (art. 8(3)). Every
 * authorisation and report states the safeguards of art. 9. One designated authority per state
 * (art. 8(6)): the policy role {@link DESIGNATED_ROLE}, held by one agency of each state.
 */
export const boarding: WorkflowDefinition = {
  name: 'boarding',
  title: 'Boarding authorisation at sea',
  paragraphs: '18',
  opens: {
    type: 'BoardingAuthorisationRequest',
    key: (m) => `boarding.${m.id}`,
    kind: (m) => enumTail(text(m.body, 'urgency') || 'BOARDING_URGENCY_ROUTINE', 'BOARDING_URGENCY_').replace('unspecified', 'routine'),
    initial: 'requested',
    guard: requestGuard,
    apply: (c, m, ctx) => {
      c.data.deadline = time(m.body, 'respondBy') ?? ctx.now + answerHours(c) * HOUR;
      c.data.flag = text((m.body.vessel ?? {}) as Record<string, unknown>, 'flagState').toUpperCase();
    },
  },
  follows: ['BoardingAuthorisationResponse', 'BoardingInformationSupplement', 'BoardingMeasuresReport'].map((type) => ({ type, link: byReference('requestId') })),
  states: {
    requested: { deadlines: [{ name: 'answer', party: 'requested', awaited: 'BoardingAuthorisationResponse', due: (c) => c.data.deadline as number, graceMs: 2 * HOUR }] },
    'registry-confirmed': {
      deadlines: [{ name: 'answer', party: 'requested', awaited: 'BoardingAuthorisationResponse (decision on boarding)', due: (c) => c.data.deadline as number, graceMs: 2 * HOUR }],
    },
    'information-requested': {
      deadlines: [{ name: 'information', party: 'requester', awaited: 'BoardingInformationSupplement', due: (_c, now) => now + INFORMATION_HOURS * HOUR, graceMs: 2 * HOUR }],
    },
    authorised: { deadlines: [{ name: 'report', party: 'requester', awaited: 'BoardingMeasuresReport (art. 8(3))', due: (_c, now) => now + REPORT_HOURS * HOUR, graceMs: REPORT_HOURS * HOUR }] },
    'without-nationality': {
      deadlines: [{ name: 'report', party: 'requester', awaited: 'BoardingMeasuresReport', due: (_c, now) => now + REPORT_HOURS * HOUR, graceMs: REPORT_HOURS * HOUR }],
    },
    reported: {},
    refused: { terminal: true },
  },
  transitions: [
    response('confirm-registry', ['REGISTRY_CONFIRMED'], 'registry-confirmed', { from: ['requested', 'information-requested'] }),
    response('deny-registry', ['REGISTRY_DENIED'], 'without-nationality', {
      from: ['requested', 'information-requested'],
      apply: () => ({ note: 'registry denied: the vessel may be treated as without nationality (art. 8(7))' }),
    }),
    response('authorise', ['AUTHORISED', 'AUTHORISED_WITH_CONDITIONS'], 'authorised', {
      guard: (_c, m) => {
        if (list(m.body, 'measuresAuthorised').length === 0) return guardFail('an authorisation must list the measures authorised (measures_authorised) (art. 8(2))');
        if (text(m.body, 'decision') === `${DECISION}AUTHORISED_WITH_CONDITIONS` && !text(m.body, 'conditions')) {
          return guardFail('an authorisation with conditions must state them (conditions) (art. 8(5))');
        }
        return missingSafeguards(m);
      },
      apply: (_c, m) => ({ note: text(m.body, 'conditions') ? 'authorised with conditions (art. 8(5))' : 'authorised' }),
    }),
    response('refuse', ['REFUSED'], 'refused', {
      guard: (_c, m) => (text(m.body, 'reasons') ? undefined : guardFail('a refusal to authorise boarding must give its reasons (reasons)')),
    }),
    response('ask-information', ['MORE_INFORMATION_NEEDED'], 'information-requested', {
      from: ['requested', 'registry-confirmed'],
      guard: (_c, m) => (text(m.body, 'informationRequested') ? undefined : guardFail('a request for more information must say what is needed (information_requested)')),
    }),
    {
      name: 'supply-information',
      on: 'BoardingInformationSupplement',
      from: ['information-requested'],
      to: 'requested',
      by: ['requester'],
      guard: (_c, m) => (text(m.body, 'information') ? undefined : guardFail('a supplement must carry the information asked for (information)')),
      apply: (c, _m, ctx) => {
        c.data.deadline = ctx.now + answerHours(c) * HOUR;
      },
    },
    {
      name: 'report',
      on: 'BoardingMeasuresReport',
      from: TAKING_MEASURES,
      to: 'reported',
      by: ['requester'],
      guard: (c, m) => {
        if (m.recipient !== c.requested) return guardFail(`the results of the measures are reported first to the flag state's designated authority ${c.requested} (art. 8(3)), not ${m.recipient}`);
        if (list(m.body, 'measuresTaken').length === 0) return guardFail('a report must list the measures taken (measures_taken) (art. 8(3))');
        return missingSafeguards(m);
      },
    },
    {
      name: 'report-further',
      on: 'BoardingMeasuresReport',
      from: ['reported'],
      to: 'reported',
      by: ['requester'],
      guard: (_c, m) => missingSafeguards(m),
      apply: (_c, m) => ({ note: `further report to ${m.recipient}` }),
    },
  ],
  supervisor: 'analyst-centre',
};
