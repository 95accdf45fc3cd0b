import type { CaseRecord, WorkflowDefinition, WorkflowMessage } from '../model.ts';
import { DAY, byReference, guardFail, keyToken, list, text, time } from './read.ts';

const ANSWER = 'JOINT_INVESTIGATION_ANSWER_';
const isAnswer = (...a: string[]) => (body: Record<string, unknown>) => a.map((x) => ANSWER + x).includes(text(body, 'answer'));

/** Agencies named as parties in the proposal, besides the proposer. */
function namedParties(m: WorkflowMessage): string[] {
  return list(m.body, 'parties')
    .map((p) => (p && typeof p === 'object' ? text(p as Record<string, unknown>, 'agency') : ''))
    .filter((a) => a && a !== m.sender);
}

function invite(c: CaseRecord, agency: string): void {
  const item = c.items.find((i) => i.agency === agency);
  if (item) item.state = 'pending';
  else c.items.push({ ref: agency, agency, state: 'pending', order: c.items.length + 1 });
}

/** Every invited party has accepted. */
const allAccepted = (c: CaseRecord) => c.items.length > 0 && c.items.every((i) => i.state === 'accepted');

/**
 * Joint investigation (¶14; UNTOC art. 19): the proposer names the parties and sends the proposal to
 * each (same proposal reference); the investigation becomes active only when every party has
 * accepted. A decline ends the proposal; a counter-proposal waits for the proposer to re-send it.
 */
export const jointInvestigation: WorkflowDefinition = {
  name: 'joint-investigation',
  title: 'Joint investigation',
  paragraphs: '14',
  opens: {
    type: 'JointInvestigationProposal',
    key: (m) => `joint-investigation.${m.sender}.${keyToken(text(m.body, 'proposalReference') || m.id)}`,
    participants: (m) => namedParties(m),
    initial: 'proposed',
    guard: (m, ctx) => {
      if (!text(m.body, 'proposalReference')) return guardFail('a joint-investigation proposal needs a proposal_reference (it ties the copies sent to each party together)');
      const parties = namedParties(m);
      if (parties.length === 0) return guardFail('a joint investigation needs at least one party besides the proposer (parties) (¶14)');
      const unknown = parties.filter((p) => !ctx.agencies.has(p));
      if (unknown.length > 0) return guardFail(`parties not in the federation: ${unknown.join(', ')}`);
      if (m.recipient !== 'all' && !parties.includes(m.recipient)) return guardFail(`the proposal is addressed to ${m.recipient}, which it does not name as a party`);
      return undefined;
    },
    apply: (c, m) => {
      for (const p of [c.requested, ...c.participants]) invite(c, p);
      c.data.respondBy = time(m.body, 'respondBy');
      return { note: `parties: ${c.items.map((i) => i.agency).join(', ')}` };
    },
  },
  follows: [{ type: 'JointInvestigationResponse', link: byReference('proposalId') }],
  states: {
    proposed: {
      deadlines: [{ name: 'answers', party: 'pending', awaited: 'JointInvestigationResponse', due: (c) => (c.data.respondBy as number | undefined) ?? c.openedAt + 14 * DAY, graceMs: 3 * DAY }],
    },
    active: {},
    declined: { terminal: true },
  },
  transitions: [
    {
      // The same proposal sent to a further party (or re-sent after a counter-proposal).
      name: 'invite',
      on: 'JointInvestigationProposal',
      from: ['proposed'],
      to: 'proposed',
      by: ['requester'],
      guard: (c, m) => (c.items.some((i) => i.agency === m.recipient) ? undefined : guardFail(`${m.recipient} is not a party of the proposal`)),
      apply: (c, m) => {
        invite(c, m.recipient);
        return { itemRef: m.recipient, itemState: 'pending', note: `proposal sent to ${m.recipient}`, notify: [c.requester, m.recipient] };
      },
    },
    {
      name: 'accept',
      on: 'JointInvestigationResponse',
      when: isAnswer('ACCEPTED', 'ACCEPTED_WITH_CONDITIONS'),
      from: ['proposed'],
      to: (c) => (allAccepted(c) ? 'active' : 'proposed'),
      by: ['requested', 'participant'],
      apply: (c, m) => {
        c.items.find((i) => i.agency === m.sender)!.state = 'accepted';
        const waiting = c.items.filter((i) => i.state !== 'accepted').map((i) => i.agency);
        return { itemRef: m.sender, itemState: 'accepted', note: waiting.length ? `${m.sender} accepted; waiting for ${waiting.join(', ')}` : 'every party accepted: the joint investigation is active' };
      },
    },
    {
      name: 'decline',
      on: 'JointInvestigationResponse',
      when: isAnswer('DECLINED'),
      from: ['proposed'],
      to: 'declined',
      by: ['requested', 'participant'],
      apply: (c, m) => {
        c.items.find((i) => i.agency === m.sender)!.state = 'declined';
        return { itemRef: m.sender, itemState: 'declined', note: `${m.sender} declined` };
      },
    },
    {
      name: 'counter-propose',
      on: 'JointInvestigationResponse',
      when: isAnswer('COUNTER_PROPOSAL'),
      from: ['proposed'],
      to: 'proposed',
      by: ['requested', 'participant'],
      apply: (c, m) => {
        c.items.find((i) => i.agency === m.sender)!.state = 'counter-proposal';
        return { itemRef: m.sender, itemState: 'counter-proposal', note: `${m.sender} proposes different terms` };
      },
    },
  ],
  supervisor: 'analyst-centre',
};
