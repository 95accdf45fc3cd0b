import type { JetStreamManager, StoredMsg } from '@nats-io/jetstream';
import { agencyJetStreamManager } from '../client/agency-js.ts';
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
    return new StoredReader(stream, await agencyJetStreamManager(nc));
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

  /** The stream's first and last sequences now (a scan stops at the last; later changes arrive live). */
  async bounds(): Promise<{ first: number; last: number }> {
    try {
      const { state } = await this.#jsm.streams.info(this.stream);
      return { first: state.first_seq, last: state.last_seq };
    } catch (err) {
      throw asLiaisonError(err, 'ERR_EXCHANGE', `cannot read the state of ${this.stream}`);
    }
  }

  /**
   * Every message matching `filter` from the stream's first sequence up to its last sequence when the
   * scan started, in stream order, one direct get at a time (nats-server 2.9 has no batched direct get;
   * read-ahead lanes measured no faster on a loaded 2-core machine): memory stays one message whatever
   * the stream holds. From sequence `from` on when given (the changes after one already seen).
   */
  async *scan(filter: string, from = 1): AsyncGenerator<StoredMsg> {
    const { first, last } = await this.bounds();
    for (let seq = Math.max(1, first, from); seq <= last; ) {
      const m = await this.next(filter, seq);
      if (!m || m.seq > last) return;
      yield m;
      seq = m.seq + 1;
    }
  }
}
