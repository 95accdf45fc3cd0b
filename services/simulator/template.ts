import { LiaisonError } from '../sdk/errors.ts';
import { parseDuration } from '../sdk/policy/index.ts';

const REF = /\$\{([a-zA-Z0-9_-]+)\}/g;
const WHOLE_TIME = /^\$\{now([+-]\d+[dhm])?\}$/;

/**
 * Resolve a scenario body: `${name}` is the header id of the message sent under that name;
 * `${now}`, `${now+3d}`, `${now-2h}` the simulated time (ISO 8601), for deadlines and dates.
 */
export function resolveTemplate(value: unknown, names: ReadonlyMap<string, string>, now: number): unknown {
  if (typeof value === 'string') {
    const t = WHOLE_TIME.exec(value);
    if (t) {
      const offset = t[1] ? (t[1].startsWith('-') ? -1 : 1) * (parseDuration(t[1].slice(1)) ?? 0) : 0;
      return new Date(now + offset).toISOString();
    }
    return value.replace(REF, (_m, name: string) => {
      const id = names.get(name);
      if (!id) throw new LiaisonError('ERR_CONFIG_INVALID', `the scenario refers to \${${name}}, but no earlier message was sent under that name`, { name });
      return id;
    });
  }
  if (Array.isArray(value)) return value.map((v) => resolveTemplate(v, names, now));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveTemplate(v, names, now)]));
  }
  return value;
}
