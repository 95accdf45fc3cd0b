import type { Policy } from '../sdk/policy/index.ts';
import { HANDLING_CODES, TLP_LABELS, visibleAt, type HandlingCode, type TlpLabel } from '../sdk/tier.ts';
import { KEY_CONFIDENCE } from './entities.ts';
import { isOccurrenceOf, type EntityRecord, type Occurrence } from './store.ts';
import { viewOf, viewSees, type View } from './visibility.ts';

/** A CorrelationAlert for one recipient, with the markings to send it under. */
export interface PlannedAlert {
  recipient: string;
  /** The CorrelationAlert body (JSON). */
  body: Record<string, unknown>;
  handling: HandlingCode;
  tlp: TlpLabel;
  /** The recipient's own case reference, for the header. */
  caseRef: string;
  /** Set only when the recipient may know the message that triggered the alert. */
  causationId?: string;
  /** Matching records of other agencies the recipient may not see (told only that they exist). */
  hidden: number;
}

/** True when the record is a tactical link: two agencies, or one agency in two cases (stops at the first pair found). */
export function isLink(r: EntityRecord): boolean {
  let agency: string | undefined;
  let caseRef = '';
  for (const o of r.occurrences) {
    if (agency === undefined) agency = o.agency;
    else if (o.agency !== agency) return true;
    if (!o.caseRef) continue;
    if (!caseRef) caseRef = o.caseRef;
    else if (o.caseRef !== caseRef) return true;
  }
  return false;
}

/**
 * True when {@link planAlert} plans an alert for `recipient` (does not answer undefined): it holds an
 * occurrence, and another agency holds one too or its own span two cases. A single pass, without the
 * views or the body: the centre decides with it which alerts a write remembers, and builds an alert's
 * body only when the alert is sent (most are replaced by a newer one first: alert-coalescer.ts).
 */
export function alertsRecipient(entity: EntityRecord, recipient: string): boolean {
  let own = false;
  let others = false;
  let ownCase = '';
  let twoCases = false;
  for (const o of entity.occurrences) {
    if (o.agency !== recipient) {
      others = true;
      continue;
    }
    own = true;
    if (!o.caseRef || twoCases) continue;
    if (!ownCase) ownCase = o.caseRef;
    else if (o.caseRef !== ownCase) twoCases = true;
  }
  return own && (others || twoCases);
}

/** Alert bodies built by {@link planAlert} in this process (tests assert the work saved). */
export const alertPlanStats = { built: 0 };

const kindLabel = (kind: string) => kind.replace('ENTITY_KIND_', '').toLowerCase().replace(/_/g, ' ');
const maxOf = <T extends string>(order: readonly T[], values: T[], floor: T): T => values.reduce((a, b) => (order.indexOf(b) > order.indexOf(a) ? b : a), floor);

function occurrenceBody(o: Occurrence): Record<string, unknown> {
  return { messageId: o.messageId, messageType: o.type, agency: o.agency, caseRef: o.caseRef, sentAt: o.sentAt };
}

/**
 * The alert `recipient` may receive about a link, or undefined when it is not involved (holds no
 * occurrence) or there is no link for it. Built only from what the recipient may know
 * ({@link viewOf}): its own messages and the other agencies' messages it could itself have
 * received with the matched field within its tier. Any other matching record is only counted —
 * "another agency holds a matching record; contact the centre" — without its agency, message id,
 * case, time, value or context. The matched value is shown only when the recipient may see it in
 * a field at the operational tier or below (the tier of `matched_value`): a personal value is
 * never relabelled operational.
 */
export function planAlert(policy: Policy, entity: EntityRecord, recipient: string, trigger: Occurrence): PlannedAlert | undefined {
  if (!alertsRecipient(entity, recipient)) return undefined;
  alertPlanStats.built++;
  const own = entity.occurrences.filter((o) => o.agency === recipient);
  const views = new Map<Occurrence, View>(entity.occurrences.map((o) => [o, viewOf(policy, recipient, o)]));
  const others = entity.occurrences.filter((o) => o.agency !== recipient);
  const visible = others.filter((o) => views.get(o)!.seesValue);
  const hiddenAgencies = new Set(others.filter((o) => !views.get(o)!.seesValue).map((o) => o.agency));
  // An agency some of whose records are visible is named anyway; only wholly hidden ones are counted.
  for (const o of visible) hiddenAgencies.delete(o.agency);
  const ownCases = [...new Set(own.map((o) => o.caseRef).filter(Boolean))];

  const included = [...own, ...visible];
  const valueShown = entity.value !== undefined && included.some((o) => visibleAt(o.fieldTier, 'operational'));
  const namespace = entity.namespace;
  const what = `${kindLabel(entity.kind)}${valueShown ? ` ${entity.value}` : ''}`;

  // Places and routes shared by two included messages, as far as the recipient may see them.
  const shared = new Map<string, Set<string>>();
  for (const o of included) {
    const view = views.get(o)!;
    for (const c of o.context) if (viewSees(view, c.tier)) shared.set(c.key, (shared.get(c.key) ?? new Set()).add(`${o.agency} ${o.messageId}`));
  }
  const common = [...shared].filter(([, ids]) => ids.size >= 2).map(([k]) => k);
  const confidence = Math.min(100, (KEY_CONFIDENCE[namespace] ?? 60) + 5 * common.length + (visible.length + hiddenAgencies.size > 1 ? 5 : 0));

  const parts: string[] = [];
  const visibleAgencies = [...new Set(visible.map((o) => o.agency))].sort();
  if (visible.length) parts.push(`The ${what} you reported also occurs in ${visible.length} message(s) of ${visibleAgencies.join(', ')} (${[...new Set(visible.map((o) => o.type))].join(', ')}).`);
  if (ownCases.length >= 2) parts.push(`It links your cases ${ownCases.join(', ')}.`);
  if (hiddenAgencies.size) {
    parts.push(
      `${hiddenAgencies.size === 1 ? 'Another agency holds a matching record' : `${hiddenAgencies.size} other agencies hold matching records`} on the ${visible.length ? 'same ' : ''}${valueShown && !visible.length ? what : kindLabel(entity.kind)}; contact the centre quoting ${entity.reference}.`,
    );
  }
  if (common.length) parts.push(`Also in common: ${common.map((k) => k.replace(/^(place|route):/, '$1 ')).join('; ')}.`);

  const action = visible.length
    ? `Contact ${visibleAgencies.join(', ')} to compare the records; consider a joint investigation (¶14).`
    : hiddenAgencies.size
      ? `Contact the multiagency centre quoting ${entity.reference}; it will seek the other agency's agreement to put you in touch.`
      : `Review your cases ${ownCases.join(' and ')} together.`;

  const fields = [...new Set(included.map((o) => o.field))];
  const mine = own[own.length - 1]!;
  const triggerKnown = trigger.agency === recipient || visible.some((o) => isOccurrenceOf(o, trigger.agency, trigger.messageId));
  return {
    recipient,
    body: {
      alertReference: entity.reference,
      matchedKind: entity.kind,
      matchedField: fields.join(', '),
      occurrences: included.map(occurrenceBody),
      ...(valueShown ? { matchedValue: entity.value } : {}),
      assessment: parts.join(' '),
      confidence,
      recommendedAction: action,
    },
    handling: maxOf(HANDLING_CODES, included.map((o) => o.handling), 'H0'),
    tlp: maxOf(TLP_LABELS, included.map((o) => o.tlp), 'GREEN'),
    caseRef: mine.caseRef,
    ...(triggerKnown ? { causationId: trigger.messageId } : {}),
    hidden: hiddenAgencies.size,
  };
}
