/**
 * Splits what nats-server sends a client (plaintext NATS protocol, after TLS is taken off) into whole frames, so a
 * test link can drop chosen ones and the stream stays well formed: `MSG`/`HMSG` with their payload, and every
 * one-line frame (`INFO`, `PING`, `PONG`, `+OK`, `-ERR`).
 */

/** One whole frame as sent, and where a message frame was addressed. */
export interface Frame {
  bytes: Buffer;
  /** The subject a MSG/HMSG was delivered on (a JetStream copy's is the stored message's); absent for other frames. */
  subject?: string;
  /** The client's subscription a MSG/HMSG was delivered to (a pull's inbox has its own); absent for other frames. */
  sid?: string;
  /** Its reply subject (a JetStream copy's is its ack subject); absent when it has none. */
  reply?: string;
}

const CRLF = Buffer.from('\r\n');

/** Collects bytes from the server and hands out complete frames in order. */
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
    const line = this.#buf.subarray(0, eol).toString('latin1');
    const [op, ...args] = line.split(' ').filter((s) => s.length > 0);
    let end = eol + 2;
    let subject: string | undefined;
    let sid: string | undefined;
    let reply: string | undefined;
    if (op === 'MSG' || op === 'HMSG') {
      // MSG subject sid [reply] size / HMSG subject sid [reply] hdrSize totalSize
      const fixed = op === 'MSG' ? 3 : 4;
      subject = args[0];
      sid = args[1];
      if (args.length > fixed) reply = args[2];
      end += Number(args[args.length - 1]) + 2;
      if (this.#buf.length < end) return undefined;
    }
    const bytes = this.#buf.subarray(0, end);
    this.#buf = this.#buf.subarray(end);
    return { bytes, subject, sid, reply };
  }
}
