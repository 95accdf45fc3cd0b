import { LiaisonError } from '../errors.ts';

/** The art. 9(1) safeguards (Smuggling of Migrants Protocol) a boarding authorisation and every report of measures must state. */
export const SAFEGUARDS: readonly (readonly [field: string, words: string])[] = [
  ['safetyAndHumaneTreatment', 'the safety and humane treatment of the persons on board (art. 9(1)(a))'],
  ['vesselAndCargoNotEndangered', 'that the vessel and its cargo are not endangered (art. 9(1)(b))'],
  ['flagStateInterestsRespected', "the flag state's commercial and legal interests (art. 9(1)(c))"],
];

/** The message types that may have to state the safeguards. */
export const SAFEGUARDED_TYPES: readonly string[] = ['BoardingAuthorisationResponse', 'BoardingMeasuresReport'];

const AUTHORISED = ['BOARDING_DECISION_AUTHORISED', 'BOARDING_DECISION_AUTHORISED_WITH_CONDITIONS'];

/** What a message of `type` with `body` (protobuf JSON, camelCase) is that must state the safeguards; undefined when none are required. */
function needingSafeguards(type: string, body: Record<string, unknown>): string | undefined {
  if (type === 'BoardingMeasuresReport') return 'a report of measures';
  if (type === 'BoardingAuthorisationResponse' && AUTHORISED.includes(body.decision as string)) return 'an authorisation';
  return undefined;
}

/**
 * Why a message lacks the safeguards of art. 9, in words; undefined when it states them all or
 * needs none. The one check both the sending SDK ({@link checkSafeguards}) and the case registry's
 * boarding workflow use, so the two cannot drift.
 */
export function lackingSafeguards(type: string, body: Record<string, unknown>): string | undefined {
  const what = needingSafeguards(type, body);
  if (what === undefined) return undefined;
  const s = body.safeguards;
  const given = typeof s === 'object' && s !== null ? (s as Record<string, unknown>) : {};
  const missing = SAFEGUARDS.filter(([field]) => given[field] !== true).map(([, words]) => words);
  if (missing.length === 0) return undefined;
  return `${what} must ensure the safeguards of Protocol art. 9 (safeguards): missing ${missing.join('; ')}`;
}

/**
 * Refuse at send, before anything is signed or published, a message lacking the art. 9 safeguards (ERR_WORKFLOW_GUARD).
 * `body` (protobuf JSON) is built only for the types that carry safeguards.
 */
export function checkSafeguards(type: string, body: () => Record<string, unknown>): void {
  if (!SAFEGUARDED_TYPES.includes(type)) return;
  const reason = lackingSafeguards(type, body());
  if (reason !== undefined) throw new LiaisonError('ERR_WORKFLOW_GUARD', `${type}: ${reason}`, { type });
}
