import { agencyServes, compileConsumers, type ConsumerSpec, type Policy, type TypeCatalog } from '../sdk/policy/index.ts';

/** NATS subject match of a literal subject against a filter with `*` and `>` wildcards. */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length || (f[i] !== '*' && f[i] !== s[i])) return false;
  }
  return f.length === s.length;
}

/**
 * Who a copy reaches under a policy: the agencies owning a durable consumer whose filter matches
 * the copy's subject (the sender's own broadcast consumer excluded — receivers skip their own).
 * Memoised per subject for one policy version.
 */
export class DeliveryMap {
  #hash = '';
  #consumers: ConsumerSpec[] = [];
  #bySubject = new Map<string, string[]>();
  #servers = new Map<string, string | undefined>();
  #policy!: Policy;
  readonly #catalog: TypeCatalog;

  constructor(catalog: TypeCatalog) {
    this.#catalog = catalog;
  }

  #use(policy: Policy): void {
    if (policy.hash === this.#hash) return;
    this.#hash = policy.hash;
    this.#policy = policy;
    this.#consumers = compileConsumers(policy, this.#catalog);
    this.#bySubject.clear();
    this.#servers.clear();
  }

  /** Agencies that receive `subject` (sorted), under `policy`. */
  recipients(policy: Policy, subject: string, sender: string): string[] {
    this.#use(policy);
    const hit = this.#bySubject.get(subject);
    if (hit) return hit;
    const out = [...new Set(this.#consumers.filter((c) => c.agency !== sender && subjectMatches(c.filterSubject, subject)).map((c) => c.agency))].sort();
    if (this.#bySubject.size > 10_000) this.#bySubject.clear();
    this.#bySubject.set(subject, out);
    return out;
  }

  /** The agency whose roles serve request type `type` under `policy`, when exactly one does. */
  server(policy: Policy, type: string): string | undefined {
    this.#use(policy);
    if (this.#servers.has(type)) return this.#servers.get(type);
    const all = Object.keys(policy.agencies).filter((a) => agencyServes(this.#policy, a).includes(type));
    const one = all.length === 1 ? all[0] : undefined;
    this.#servers.set(type, one);
    return one;
  }

  /** The agency owning a consumer name (`<agency>__<Type>__<scope>[__r<k>]`). */
  static agencyOf(consumer: string): string {
    return consumer.split('__')[0]!;
  }
}
