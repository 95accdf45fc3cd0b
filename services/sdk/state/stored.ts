import { jetstreamManager, type JetStreamManager, type StoredMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { asLiaisonError } from '../errors.ts';

/**
 * Reads single stored messages of one stream by direct get (`$JS.API.DIRECT.GET.<stream>` and
 * `.<stream>.<subject>`): the only read right an agency has on its own state buckets. No consumer is
 * ever created, so no deliver subject exists for the server to publish to (nats-server 2.9 never checks
 * a push consumer's deliver subject against its creator's permissions).
 */
export class StoredReader {
  readonly stream: string;
  readonly #jsm: JetStreamManager;

  private constructor(stream: string, jsm: JetStreamManager) {
    this.stream = stream;
    this.#jsm = jsm;
  }

  /** Bind `stream` (no round trip: the agency has no account-wide `$JS.API.INFO` right). */
  static async open(nc: NatsConnection, stream: string): Promise<StoredReader> {
    return new StoredReader(stream, await jetstreamManager(nc, { checkAPI: false }));
  }

  /** The last message stored on `subject` (a literal subject), or undefined when there is none. */
  async last(subject: string): Promise<StoredMsg | undefined> {
    try {
      return (await this.#jsm.direct.getMessage(this.stream, { last_by_subj: subject })) ?? undefined;
    } catch (err) {
      throw asLiaisonError(err, 'ERR_EXCHANGE', `cannot read the last message on ${subject} of ${this.stream}`);
    }
  }

  /** The first message at or after sequence `seq` whose subject matches `filter`, or undefined when there is none. */
  async next(filter: string, seq: number): Promise<StoredMsg | undefined> {
    try {
      return (await this.#jsm.direct.getMessage(this.stream, { seq, next_by_subj: filter })) ?? undefined;
    } catch (err) {
      throw asLiaisonError(err, 'ERR_EXCHANGE', `cannot read ${filter} from sequence ${seq} of ${this.stream}`);
    }
  }

  /** The stream's last sequence now (a scan stops there; later changes arrive live). */
  async lastSeq(): Promise<number> {
    try {
      return (await this.#jsm.streams.info(this.stream)).state.last_seq;
    } catch (err) {
      throw asLiaisonError(err, 'ERR_EXCHANGE', `cannot read the state of ${this.stream}`);
    }
  }

  /**
   * Every message matching `filter` from sequence 1 up to the stream's last sequence when the scan
   * started, one direct get at a time (nats-server 2.9 has no batched direct get): memory stays one
   * message whatever the stream holds.
   */
  async *scan(filter: string): AsyncGenerator<StoredMsg> {
    const end = await this.lastSeq();
    for (let seq = 1; seq <= end; ) {
      const m = await this.next(filter, seq);
      if (!m || m.seq > end) return;
      yield m;
      seq = m.seq + 1;
    }
  }
}
