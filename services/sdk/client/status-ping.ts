/**
 * The body of a status ping (`liaison exchange status`): the root-signed federation directory, so a client
 * that missed a push catches up from the ping itself, and nothing in it steers a client unverified.
 */
export interface StatusPing {
  /** The federation directory JWS, as the exchange serves it. */
  directory: string;
}

/** Largest ping a client reads (a directory of a few hundred agencies fits well within it). */
export const STATUS_PING_MAX_BYTES = 4 << 20;

/** The ping body for a directory JWS. */
export function statusPing(directoryJws: string): string {
  return JSON.stringify({ directory: directoryJws } satisfies StatusPing);
}

/** The directory JWS a ping carries, or undefined when the bytes are not a well-formed ping (bounded before parsing). */
export function directoryOfPing(data: Uint8Array): string | undefined {
  if (data.byteLength === 0 || data.byteLength > STATUS_PING_MAX_BYTES) return undefined;
  try {
    const ping = JSON.parse(new TextDecoder().decode(data)) as unknown;
    const jws = ping !== null && typeof ping === 'object' ? (ping as Record<string, unknown>)['directory'] : undefined;
    return typeof jws === 'string' && jws.length > 0 ? jws : undefined;
  } catch {
    return undefined;
  }
}
