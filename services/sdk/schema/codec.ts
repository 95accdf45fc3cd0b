import { LiaisonError } from '../errors.ts';
import { fromJson } from './json.ts';
import type { BodyMessage, MessageInfo } from './model.ts';

/**
 * Encode a body: a message of `info.type` is encoded as it is; anything else is first validated and
 * converted with {@link fromJson} (ERR_BODY_INVALID naming the field).
 */
export function encodeBody(info: MessageInfo, obj: BodyMessage | unknown): Uint8Array {
  const message = obj instanceof info.type.ctor ? (obj as BodyMessage) : fromJson(info, obj);
  return info.type.encode(message).finish();
}

/** Decode body bytes as `info.type`; malformed bytes → ERR_DECODE. */
export function decodeBody(info: MessageInfo, bytes: Uint8Array): BodyMessage {
  try {
    return info.type.decode(bytes);
  } catch (err) {
    throw new LiaisonError('ERR_DECODE', `body is not a valid ${info.fullName}: ${(err as Error).message}`, { type: info.name }, { cause: err });
  }
}
