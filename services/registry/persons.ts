import type { Reply } from '../sdk/client/rpc.ts';
import type { ReceivedMessage } from '../sdk/envelope/open.ts';
import { messageKey } from '../sdk/client/consume.ts';
import { LiaisonError } from '../sdk/errors.ts';
import { isUuidv7 } from '../sdk/ids.ts';
import { HIT_SCORE, MIN_SCORE, PersonIndex, type KeyedHasher } from './index/index.ts';
import type { IdentifierKind, PersonIdentifierInput, PersonNameInput } from './index/person-record.ts';

/** The person JSON as the schema's `Person` gives it (camelCase). */
interface PersonJson {
  name?: PersonNameInput & object;
  aliases?: (PersonNameInput & object)[];
  birthDate?: string;
  nationalities?: string[];
  identifiers?: { kind?: string; value?: string; issuingCountry?: string }[];
}

const KIND_PREFIX = 'IDENTIFIER_KIND_';

function identifiers(p: PersonJson): PersonIdentifierInput[] {
  return (p.identifiers ?? [])
    .filter((i) => i.value)
    .map((i) => ({
      kind: (i.kind?.startsWith(KIND_PREFIX) ? i.kind.slice(KIND_PREFIX.length).toLowerCase() : 'other') as IdentifierKind,
      value: i.value!,
      ...(i.issuingCountry ? { country: i.issuingCountry } : {}),
    }));
}

/** The reference of an alert that gives none of its own: its message, `<sender>:<id>`. */
export function messageAlertRef(sender: string, id: string): string {
  return `${sender}:${id}`;
}

/** `<agency>:<UUIDv7>`: the form of a message reference. */
const MESSAGE_REF = /^([a-z][a-z0-9-]{1,40}):(.+)$/;

/** Throws ERR_BODY_INVALID when `reference` has the form of another agency's message reference. */
function checkOwnReference(reference: string, sender: string): void {
  const m = MESSAGE_REF.exec(reference);
  if (m && m[1] !== sender && isUuidv7(m[2]!)) {
    throw new LiaisonError('ERR_BODY_INVALID', `PersonAlert.alert_reference "${reference}" has the form of a message reference of ${m[1]}: an agency references only its own alerts`, { field: 'alertReference' });
  }
}

/** What a person check found: the best candidate, if any, with its score and reasons. */
export interface PersonCheck {
  reply: Reply;
  hit?: { ref: string; owner: string; score: number };
}

/**
 * Person alerts of the ¶16 registry (persons convicted or suspected of Protocol art. 6 offences):
 * an index of keyed hashes of identifiers and normalised name tokens (no plaintext names), matched
 * on identifiers, names with transliteration and spelling variants, aliases and birth dates.
 */
export class PersonAlerts {
  readonly index: PersonIndex;
  readonly #actions: Map<string, string>;
  /** Alert reference by the message that stored it, `<sender> <id>` (this run only; see {@link withdraw}). */
  readonly #refByMessage = new Map<string, string>();
  #seq: number;

  constructor(hasher: KeyedHasher, restored?: { index: PersonIndex; actions: Record<string, string>; seq: number }) {
    this.index = restored?.index ?? new PersonIndex({ hasher });
    this.#actions = new Map(Object.entries(restored?.actions ?? {}));
    this.#seq = restored?.seq ?? 0;
  }

  /** What a snapshot needs besides the index: requested actions by alert and the record counter. */
  snapshotExtras(): { actions: Record<string, string>; seq: number } {
    return { actions: Object.fromEntries(this.#actions), seq: this.#seq };
  }

  /**
   * Store or replace a PersonAlert from its sender (the alert owner). An alert of another agency is
   * never replaced: a reference it already holds is refused (ERR_REFERENCE_TAKEN). An alert without a
   * reference of its own is referenced by its message, `<sender>:<id>` ({@link messageAlertRef}): a
   * message is (sender, id), so another agency that learnt the id in advance cannot take the
   * reference first; nor can it name an alert of its own with another agency's message reference.
   */
  apply(msg: ReceivedMessage): 'added' | 'updated' {
    const body = msg.body as { alertReference?: string; subject?: PersonJson; requestedAction?: string };
    const subject = body.subject;
    if (!subject?.name) throw new LiaisonError('ERR_BODY_INVALID', 'PersonAlert.subject.name: a person alert needs the subject’s name', { field: 'subject.name' });
    if (body.alertReference) checkOwnReference(body.alertReference, msg.header.sender);
    const ref = body.alertReference || messageAlertRef(msg.header.sender, msg.header.id);
    const owner = this.index.get(ref)?.owner;
    if (owner !== undefined && owner !== msg.header.sender) {
      throw new LiaisonError('ERR_REFERENCE_TAKEN', `the alert ${ref} belongs to ${owner}: ${msg.header.sender} may not replace it`, { field: body.alertReference ? 'alertReference' : 'id' });
    }
    this.#refByMessage.set(messageKey(msg.header), ref);
    if (body.requestedAction) this.#actions.set(ref, body.requestedAction);
    return this.index.upsert({
      ref,
      owner: msg.header.sender,
      seq: ++this.#seq,
      name: subject.name,
      aliases: subject.aliases ?? [],
      ...(subject.birthDate ? { birthDate: subject.birthDate } : {}),
      nationalities: subject.nationalities ?? [],
      identifiers: identifiers(subject),
    });
  }

  /**
   * The PersonAlert message `messageId` was retracted by `sender`: drop the alert it stored, if `sender` owns it. An alert
   * with its own `alert_reference` is found through the message id only if this run applied it; one
   * without is found by the message id itself. True when an alert was dropped.
   */
  withdraw(messageId: string, sender: string): boolean {
    // The retracted message is the sender's own (a message is (sender, id)).
    const key = messageKey({ sender, id: messageId });
    // Its own reference if this run applied it; else its message reference, or (an alert stored before
    // those existed, restored from a snapshot) the bare message id.
    const ref = [this.#refByMessage.get(key), messageAlertRef(sender, messageId), messageId].find((r) => r !== undefined && this.index.get(r)?.owner === sender);
    // Only the alert's owner may withdraw it (anyone may send a Retraction).
    if (ref === undefined) return false;
    this.#refByMessage.delete(key);
    this.#actions.delete(ref);
    return this.index.remove(ref);
  }

  /** Answer a PersonCheckRequest: HIT at ≥ HIT_SCORE, POSSIBLE_HIT at ≥ MIN_SCORE, with the reasons. */
  check(req: ReceivedMessage, countryOf: (agency: string) => string | undefined, checkedAt: string): PersonCheck {
    const subject = (req.body as { subject?: PersonJson }).subject;
    if (!subject?.name && !subject?.identifiers?.length) {
      throw new LiaisonError('ERR_BODY_INVALID', 'PersonCheckRequest.subject: give a name or an identifier', { field: 'subject' });
    }
    const [best] = this.index.match({
      names: [...(subject.name ? [subject.name] : []), ...(subject.aliases ?? [])],
      ...(subject.birthDate ? { birthDate: subject.birthDate } : {}),
      nationality: subject.nationalities ?? [],
      identifiers: identifiers(subject),
      minScore: MIN_SCORE,
      limit: 1,
    });
    if (!best) return { reply: { type: 'PersonCheckResult', body: { requestId: req.header.id, outcome: 'CHECK_OUTCOME_NO_HIT', checkedAt } } };
    const outcome = best.score >= HIT_SCORE ? 'CHECK_OUTCOME_HIT' : 'CHECK_OUTCOME_POSSIBLE_HIT';
    return {
      reply: {
        type: 'PersonCheckResult',
        body: {
          requestId: req.header.id,
          outcome,
          alertReference: best.ref,
          alertOwnerCountry: countryOf(best.owner) ?? '',
          requestedAction: this.#actions.get(best.ref) ?? '',
          matchScore: best.score,
          matchReasons: [...best.reasons],
          checkedAt,
        },
      },
      hit: { ref: best.ref, owner: best.owner, score: best.score },
    };
  }
}
