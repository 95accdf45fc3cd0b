import type { MessageHeader } from '../envelope/header.ts';
import type { OpenContext } from '../envelope/open.ts';
import { isAgencyId, parseServiceSubject } from '../subjects.ts';

/**
 * A request as a service sees it when it arrives, BEFORE its signature is verified (issue 16: a service refuses work
 * it cannot take on without spending a verification on it).
 *
 * - `requester` is authenticated by the broker: an agency may publish only on request subjects that carry its own
 *   id, so the subject's last token names who sent the bytes, whatever they claim.
 * - `header` is what the request claims, NOT verified. It is given only when its sender and type agree with the
 *   subject (a request that disagrees is refused by the receive pipeline before any verification anyway).
 */
export interface ArrivingRequest {
  /** The agency whose request subject carried it (authenticated by the broker). */
  requester: string;
  /** Short type name, e.g. `DocumentCheckRequest`. */
  type: string;
  /** The request's claimed header: unverified, so only fit to address a refusal to `requester`. */
  header: MessageHeader;
}

/**
 * Admission of a service's requests, consulted on arrival before verification. `admit` returns undefined to take
 * the request on (the service then calls `release` exactly once, when it has answered it, whatever the answer), or
 * a {@link BusyRefusal} to refuse it at once: the SDK answers `ERR_BUSY` with the service's signed busy statement for
 * that reason (busy-statement.ts: signed at most once per window, whatever the number of refusals), only along the
 * request's response route, which the broker maps back into the requester's own account.
 *
 * What an unverified request can make a service do through this: one refusal carrying a statement already signed,
 * to the broker-authenticated requester's own inbox, per request it sent — no signature, no verification, no lookup.
 * It cannot make the service answer anyone else, nor reach the handler, the lookup or any state.
 */
export interface RequestAdmission {
  admit(req: ArrivingRequest): BusyRefusal | undefined;
  release(): void;
}

/**
 * A refusal on arrival: `busy` is the reason the service's signed busy statement carries. Keep it to a few fixed
 * texts (no per-request figures): a statement is signed once per window for each distinct reason.
 */
export interface BusyRefusal {
  busy: string;
}

/**
 * The claimed (unverified) header of a request that arrived on `subject`, or undefined when the subject names no
 * agency, the bytes do not decode, or the claimed sender or type disagree with the subject. Costs a protobuf decode
 * of the envelope and header: no signature, no key look-up.
 */
export function arrivingRequest(ctx: Pick<OpenContext, 'codec' | 'catalog'>, subject: string, data: Uint8Array): ArrivingRequest | undefined {
  const s = parseServiceSubject(subject);
  if (!s || !isAgencyId(s.sender)) return undefined;
  try {
    const env = ctx.codec.decodeEnvelope(data);
    const { header } = ctx.codec.decodeSigned(env.signed);
    if (header.sender !== s.sender || ctx.catalog.get(header.type).name !== s.type) return undefined;
    return { requester: s.sender, type: s.type, header };
  } catch {
    return undefined; // the receive pipeline refuses it with its typed reason, before any verification
  }
}
