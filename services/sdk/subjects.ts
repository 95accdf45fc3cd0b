import { LiaisonError } from './errors.ts';
import { TIERS, isTier, type Tier } from './tier.ts';

/**
 * The NATS subject space of a Liaison exchange. Everything that builds or parses a subject goes
 * through this file, so the broker permissions compiled from the policy and the subjects the SDK
 * publishes on cannot drift apart.
 *
 * Messages: `liaison.v1.<tier>.<family>.<Type>.<sender>.<recipient>` (recipient = agency id or `all`).
 */
export const SUBJECT_ROOT = 'liaison.v1';

/** The broadcast recipient token. */
export const BROADCAST = 'all';

/** Agency ids are single lowercase NATS tokens; `all` is reserved for broadcast. */
export const AGENCY_ID_RE = /^[a-z][a-z0-9-]{1,40}$/;

/**
 * An agency's own directory request subject; replies are the root-signed directory JWS. Only the agency may
 * publish on it, so the broker authenticates the requester, and the service answers only inside its inbox.
 */
export function directoryRequestSubject(agency: string): string {
  return `${SUBJECT_ROOT}.svc.trust.directory.${agency}`;
}

/** What the exchange's directory service subscribes to. */
export const DIRECTORY_REQUEST_SUBJECTS = `${SUBJECT_ROOT}.svc.trust.directory.*`;
/** Subject on which the exchange pushes a new directory (enrolment, revocation, rotation). */
export const DIRECTORY_UPDATE_SUBJECT = `${SUBJECT_ROOT}.trust.directory`;

/**
 * Request subject of a request/reply service for a request type, sent by `sender`:
 * `liaison.v1.svc.documents.DocumentCheckRequest.xa-border-police`. An agency may publish only with its own
 * sender token, so the broker authenticates the requester; the serving agency subscribes with `*` in its place
 * and answers only inside the requester's own inbox prefix ({@link replyAllowed}).
 */
export function serviceSubject(family: string, type: string, sender: string): string {
  return `${SUBJECT_ROOT}.svc.${family}.${type}.${sender}`;
}

/** The parts of an agency service request subject, or undefined when `subject` is not one. */
export function parseServiceSubject(subject: string): { family: string; type: string; sender: string } | undefined {
  const t = subject.split('.');
  if (t.length !== 6 || t[0] !== 'liaison' || t[1] !== 'v1' || t[2] !== 'svc' || t[3] === 'exchange' || t[3] === 'trust') return undefined;
  return { family: t[3]!, type: t[4]!, sender: t[5]! };
}

/**
 * True when `reply` lies inside `agency`'s own inbox prefix (`_INBOX_<agency>.…`, no wildcards). NATS checks
 * the subject a client publishes to, never the reply subject it names: a service that answered any reply
 * subject would publish, with its own rights, wherever a requester asked (a JetStream purge, another agency's
 * KV entry). Every Liaison service answers only where this holds, for the agency the request subject names.
 */
export function replyAllowed(reply: string | undefined, agency: string): boolean {
  if (!reply || !isAgencyId(agency)) return false;
  const prefix = `${inboxPrefix(agency)}.`;
  return reply.length > prefix.length && reply.length <= 256 && reply.startsWith(prefix) && !/[\s*>]/.test(reply) && !reply.endsWith('.') && !reply.includes('..');
}

/**
 * True when `reply` is a service-import response route (`_R_.…`): what a request that crossed from another
 * NATS account carries. The server maps it back to the requester's own reply subject inside the requester's
 * account, so an answer there can reach nothing else. Inside an account that holds no agency (the exchange's),
 * and for an agency serving through the exchange, it is the only reply a Liaison service answers.
 */
export function responseRoute(reply: string | undefined): boolean {
  return reply !== undefined && reply.length > 4 && reply.length <= 256 && reply.startsWith('_R_.') && !/[\s*>]/.test(reply);
}

/**
 * An agency's own replay request subject: the exchange re-delivers that agency's durable consumers
 * from given stream sequences (a restarted service replaying the tail after its snapshot). Only the
 * agency may publish on it, so the broker authenticates the requester.
 */
export function replaySubject(agency: string): string {
  return `${SUBJECT_ROOT}.svc.exchange.replay.${agency}`;
}

/** What the exchange's replay service subscribes to. */
export const REPLAY_SUBJECTS = `${SUBJECT_ROOT}.svc.exchange.replay.*`;

/**
 * An agency's own retraction subject: the exchange looks up, deletes and records the copies of a
 * message the agency sent (`liaison retract`), or reports the receipts. Only the agency may publish on it.
 */
export function retractSubject(agency: string): string {
  return `${SUBJECT_ROOT}.svc.exchange.retract.${agency}`;
}

/** What the exchange's retraction service subscribes to. */
export const RETRACT_SUBJECTS = `${SUBJECT_ROOT}.svc.exchange.retract.*`;

/**
 * An agency's own quarantine listing subject: the exchange answers with the copies waiting in that agency's
 * quarantine (and those replayed). Only the agency may publish on it, so it lists only its own.
 */
export function quarantineServiceSubject(agency: string): string {
  return `${SUBJECT_ROOT}.svc.exchange.quarantine.${agency}`;
}

/** What the exchange's quarantine listing service subscribes to. */
export const QUARANTINE_SERVICE_SUBJECTS = `${SUBJECT_ROOT}.svc.exchange.quarantine.*`;

/**
 * An agency's own peek subject (`liaison tail` without consuming): the exchange answers with the copies the
 * agency's own consumers would deliver, acknowledging nothing. Only the agency may publish on it, so it reads only its own.
 */
export function peekSubject(agency: string): string {
  return `${SUBJECT_ROOT}.svc.exchange.peek.${agency}`;
}

/** What the exchange's peek service subscribes to. */
export const PEEK_SUBJECTS = `${SUBJECT_ROOT}.svc.exchange.peek.*`;

/**
 * Where an agency reaches the exchange's JetStream API in its own NATS account: `LIAISON.API.<…>` is imported
 * from the exchange account's `$JS.API.<…>` (and `LIAISON.API.$KV.<bucket>.>` from `$KV.<bucket>.>`). Each agency
 * lives in an account of its own, so whatever JetStream answers to a request goes back into the requesting
 * agency's account only — never onto a subject of the exchange or of another agency (2.9 lets a requester name
 * any reply subject, and JetStream answers there). Its own account has no JetStream of its own, whose handler
 * would shadow an import of `$JS.API.>` itself.
 */
export const AGENCY_JS_API = 'LIAISON.API';

/** An agency-local JetStream API subject for the exchange's `$JS.API.<rest>`. */
export function agencyJsApi(rest: string): string {
  return `${AGENCY_JS_API}.${rest}`;
}

/** The parts of a message subject. */
export interface MessageSubject {
  tier: Tier;
  family: string;
  type: string;
  sender: string;
  recipient: string;
}

/** True when `id` is a valid agency id. */
export function isAgencyId(id: string): boolean {
  return AGENCY_ID_RE.test(id) && id !== BROADCAST;
}

/** Throw ERR_AGENCY_UNKNOWN unless `id` is a well-formed agency id. */
export function assertAgencyId(id: string): void {
  if (!isAgencyId(id)) {
    throw new LiaisonError('ERR_AGENCY_UNKNOWN', `invalid agency id "${id}" (expected ${AGENCY_ID_RE.source}, not "all")`, { agency: id });
  }
}

/** Build the subject of one copy of a message. */
export function messageSubject(s: MessageSubject): string {
  return `${SUBJECT_ROOT}.${s.tier}.${s.family}.${s.type}.${s.sender}.${s.recipient}`;
}

/** Parse a message subject; undefined when it is not one. */
export function parseMessageSubject(subject: string): MessageSubject | undefined {
  const t = subject.split('.');
  if (t.length !== 7 || t[0] !== 'liaison' || t[1] !== 'v1' || !isTier(t[2])) return undefined;
  return { tier: t[2], family: t[3]!, type: t[4]!, sender: t[5]!, recipient: t[6]! };
}

/** The JetStream stream holding a family: `LIAISON_DOCUMENTS`. */
export function streamName(family: string): string {
  return `LIAISON_${family.toUpperCase()}`;
}

/** The subjects of a family's stream, one per tier (never `liaison.v1.*.<family>.>`, which would capture `svc`). */
export function familyStreamSubjects(family: string): string[] {
  return TIERS.map((tier) => `${SUBJECT_ROOT}.${tier}.${family}.>`);
}

/** Where a receiving agency puts what it rejected. */
export function quarantineSubject(agency: string): string {
  return `${SUBJECT_ROOT}.quarantine.${agency}`;
}

/** The quarantine stream and its subjects. */
export const QUARANTINE_STREAM = 'LIAISON_QUARANTINE';
export const QUARANTINE_SUBJECTS = [`${SUBJECT_ROOT}.quarantine.>`];

/** The exchange asks every connected SDK for its status (`liaison exchange status`). */
export const STATUS_PING_SUBJECT = `${SUBJECT_ROOT}.status.ping`;

/** Where an agency's SDK answers a status ping (only that agency may publish there). */
export function statusSubject(agency: string): string {
  return `${SUBJECT_ROOT}.status.agency.${agency}`;
}

/** Every agency's status answers (the exchange administrator listens). */
export const STATUS_SUBJECTS = `${SUBJECT_ROOT}.status.agency.*`;

/**
 * Per-agency inbox prefix. A shared `_INBOX.>` would let any agency subscribe to the replies of
 * another agency's pull requests, i.e. read its messages; a prefix per agency closes that.
 */
export function inboxPrefix(agency: string): string {
  return `_INBOX_${agency}`;
}

/** Receiving scope of a consumer: messages directed to the agency, broadcasts, or observed (any recipient). */
export type Scope = 'direct' | 'all' | 'observe';

/**
 * Durable consumer name of an agency for a type and scope (names are listed exactly in permissions);
 * replicas after the first get their own (`…__r2`), so each sees every message.
 */
export function consumerName(agency: string, type: string, scope: Scope, replica = 1): string {
  return replica > 1 ? `${agency}__${type}__${scope}__r${replica}` : `${agency}__${type}__${scope}`;
}

/** Filter subject of an agency's consumer: its ceiling tier, any sender, itself, `all`, or any recipient (observe). */
export function consumerFilter(agency: string, tier: Tier, family: string, type: string, scope: Scope): string {
  const recipient = scope === 'direct' ? agency : scope === 'all' ? BROADCAST : '*';
  return `${SUBJECT_ROOT}.${tier}.${family}.${type}.*.${recipient}`;
}

/**
 * Where the exchange republishes each write to a KV bucket (its stream's `republish`, headers only): the
 * owning agency follows its bucket there, by a stream import into its account. A write arrives in the exchange
 * through the agency's service import, and such traffic is not passed on to stream imports; a republish is.
 */
export function bucketChangesSubject(bucket: string): string {
  return `${SUBJECT_ROOT}.state.${bucket}`;
}

/** JetStream KV bucket or object store of an agency's state (`<agency>_<name>`); replicas share it. */
export function bucketName(agency: string, name: string): string {
  return `${agency}_${name}`;
}
