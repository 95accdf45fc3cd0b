import { AckPolicy, DeliverPolicy, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../sdk/logging.ts';
import { compileConsumers, type Policy, type TypeCatalog } from '../sdk/policy/index.ts';
import { REPLAY_SUBJECTS } from '../sdk/subjects.ts';
import type { ExchangeServiceHost } from './service-host.ts';

/** A replay request: consumer name → first stream sequence to re-deliver. */
export interface ReplayRequest {
  positions: Record<string, number>;
}

/** The answer: the consumers reset, or an error. */
export type ReplayReply = { ok: true; reset: string[] } | { ok: false; error: string };

const nanos = (ms: number) => ms * 1_000_000;

/**
 * The exchange's replay service. An agency (a restarted registry, say) asks on its own
 * `liaison.v1.svc.exchange.replay.<agency>` subject — which only it may publish on — to re-deliver
 * its durable consumers from given stream sequences; the exchange recreates exactly those consumers
 * (same filter, start sequence set) on the administrator's connection `nc`; the answer goes out through the
 * services host, inside the agency's own inbox. Consumers of other agencies are never touched.
 */
export function startReplayService(o: { nc: NatsConnection; host: ExchangeServiceHost; policy: () => Policy; catalog: TypeCatalog; logger?: Logger }): void {
  o.host.listen('replay', REPLAY_SUBJECTS, async (msg, agency) => {
      const reply = await (async (): Promise<ReplayReply> => {
        let req: ReplayRequest;
        try {
          req = JSON.parse(msg.string()) as ReplayRequest;
          if (!req || typeof req.positions !== 'object') throw new Error('missing positions');
        } catch (e) {
          return { ok: false, error: `ERR_BODY_INVALID: replay request is not {"positions": {consumer: seq}}: ${(e as Error).message}` };
        }
        const own = new Map(compileConsumers(o.policy(), o.catalog).filter((c) => c.agency === agency).map((c) => [c.name, c]));
        for (const [name, seq] of Object.entries(req.positions)) {
          if (!own.has(name)) return { ok: false, error: `ERR_PERMISSION_DENIED: ${name} is not a consumer of ${agency}` };
          if (!Number.isInteger(seq) || seq < 1) return { ok: false, error: `ERR_BODY_INVALID: start sequence for ${name} must be a positive integer` };
        }
        const jsm = await jetstreamManager(o.nc);
        const reset: string[] = [];
        for (const [name, seq] of Object.entries(req.positions)) {
          const c = own.get(name)!;
          await jsm.consumers.delete(c.stream, c.name).catch(() => undefined);
          await jsm.consumers.add(c.stream, {
            durable_name: c.name,
            filter_subject: c.filterSubject,
            ack_policy: AckPolicy.Explicit,
            deliver_policy: DeliverPolicy.StartSequence,
            opt_start_seq: seq,
            // As provisioned (provision.ts): an observer's in-flight window and ack wait survive a replay.
            ack_wait: nanos(c.ackWaitMs),
            max_deliver: 20,
            max_ack_pending: c.maxAckPending,
          });
          reset.push(name);
        }
        o.logger?.info({ agency, reset: reset.length }, 'consumers replayed from requested sequences');
        return { ok: true, reset };
      })().catch((e: unknown): ReplayReply => ({ ok: false, error: `ERR_EXCHANGE: ${(e as Error).message}` }));
      return { data: JSON.stringify(reply) };
  });
}
