/**
 * Splits the NATS protocol (plaintext, after TLS is taken off) into whole frames, so a test link can read what
 * passes and drop chosen frames with the stream still well formed. Frames with a payload: what the server delivers
 * (`MSG`/`HMSG`) and what a client publishes (`PUB`/`HPUB`); every other frame is one line (`INFO`, `CONNECT`,
 * `SUB`, `UNSUB`, `PING`, `PONG`, `+OK`, `-ERR`).
 */

/** One whole frame as sent, and what it names. */
export interface Frame {
  bytes: Buffer;
  /** The operation: MSG, HMSG, PUB, HPUB, SUB, INFO, PING, … */
  op: string;
  /** MSG/HMSG: the subject delivered on (a JetStream copy's is the stored message's); PUB/HPUB/SUB: the subject. */
  subject?: string;
  /** MSG/HMSG: the client's subscription it was delivered to (a pull's inbox has its own); SUB: the one it opens. */
  sid?: string;
  /** MSG/HMSG/PUB/HPUB: the reply subject (a JetStream copy's is its ack subject; a pull request's its inbox). */
  reply?: string;
}

const CRLF = Buffer.from('\r\n');

/** Collects bytes from one side and hands out complete frames in order. */
export class FrameSplitter {
  #buf: Buffer = Buffer.alloc(0);

  /** Add what was read; the frames it completed. */
  push(chunk: Buffer): Frame[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const frames: Frame[] = [];
    for (;;) {
      const frame = this.#next();
      if (!frame) return frames;
      frames.push(frame);
    }
  }

  /** The first complete frame in the buffer, taken out of it; undefined while it is incomplete. */
  #next(): Frame | undefined {
    const eol = this.#buf.indexOf(CRLF);
    if (eol < 0) return undefined;
    const [op = '', ...args] = this.#buf.subarray(0, eol).toString('latin1').split(' ').filter((s) => s.length > 0);
    const named = fieldsOf(op.toUpperCase(), args);
    const end = eol + 2 + (named.payload === undefined ? 0 : named.payload + 2);
    if (this.#buf.length < end) return undefined;
    const bytes = this.#buf.subarray(0, end);
    this.#buf = this.#buf.subarray(end);
    return { bytes, op: op.toUpperCase(), subject: named.subject, sid: named.sid, reply: named.reply };
  }
}

/** What a frame's control line names, and the size of its payload (absent: a one-line frame). */
function fieldsOf(op: string, args: string[]): { subject?: string; sid?: string; reply?: string; payload?: number } {
  const size = Number(args[args.length - 1]);
  switch (op) {
    case 'MSG': // MSG subject sid [reply] size
      return { subject: args[0], sid: args[1], reply: args.length > 3 ? args[2] : undefined, payload: size };
    case 'HMSG': // HMSG subject sid [reply] hdrSize totalSize
      return { subject: args[0], sid: args[1], reply: args.length > 4 ? args[2] : undefined, payload: size };
    case 'PUB': // PUB subject [reply] size
      return { subject: args[0], reply: args.length > 2 ? args[1] : undefined, payload: size };
    case 'HPUB': // HPUB subject [reply] hdrSize totalSize
      return { subject: args[0], reply: args.length > 3 ? args[1] : undefined, payload: size };
    case 'SUB': // SUB subject [queue] sid
      return { subject: args[0], sid: args[args.length - 1] };
    default:
      return {};
  }
}
