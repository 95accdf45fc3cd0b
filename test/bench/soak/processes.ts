import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** The repository root and the pinned Node 24, which runs the TypeScript sources directly. */
export const ROOT = join(import.meta.dirname, '../../..');
export const NODE = join(ROOT, 'node_modules/.bin/node');
export const CLI = 'services/cli/main.ts';

/** How much of a process's output is kept (its tail), for error messages. */
const TAIL_CHARS = 16_384;

/** A process the soak started (or one its child started, e.g. nats-server), known by PID. */
export interface Launched {
  name: string;
  pid: number;
  /** Absent for a process adopted by PID (not our child). */
  child?: ChildProcess;
  /** The last output lines, stdout and stderr together. */
  tail(): string;
  /** Resolves when the process has exited (adopted processes: never). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Every process the soak started, so that each is stopped by its PID: politely (SIGTERM, then SIGKILL after a
 * grace) at the end, at once (SIGKILL) when the soak itself is interrupted or fails.
 */
export class ProcessGroup {
  readonly #all: Launched[] = [];

  /** Processes still known, in start order. */
  get processes(): readonly Launched[] {
    return this.#all;
  }

  /**
   * Start `node <script> ...args` (default: the liaison CLI) with `LIAISON_LOG_LEVEL=warn`; `onLine` sees each
   * stdout line. stdin is a pipe the soak holds: a child that watches it ends when the soak goes.
   */
  start(name: string, args: string[], o: { script?: string; onLine?: (line: string) => void } = {}): Launched {
    const child = spawn(NODE, [o.script ?? CLI, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LIAISON_LOG_LEVEL: 'warn' } });
    if (child.pid === undefined) throw new Error(`soak: could not start ${name}`);
    let tail = '';
    let partial = '';
    const keep = (s: string) => {
      tail = (tail + s).slice(-TAIL_CHARS);
    };
    child.stdout!.on('data', (d: Buffer) => {
      const s = d.toString('utf8');
      keep(s);
      if (!o.onLine) return;
      const lines = (partial + s).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) o.onLine(l);
    });
    child.stderr!.on('data', (d: Buffer) => keep(d.toString('utf8')));
    child.stdin!.on('error', () => undefined);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
    const l: Launched = { name, pid: child.pid, child, tail: () => tail, exited };
    this.#all.push(l);
    return l;
  }

  /** Track a process one of ours started (e.g. the exchange's nats-server) so it is sampled and stopped too. */
  adopt(name: string, pid: number): Launched {
    const l: Launched = { name, pid, tail: () => '', exited: new Promise(() => undefined) };
    this.#all.push(l);
    return l;
  }

  /** Resolves once `l`'s output matches `re`; rejects when it exits first or after `ms`. */
  async waitFor(l: Launched, re: RegExp, ms = 60_000): Promise<RegExpMatchArray> {
    const end = Date.now() + ms;
    let gone = false;
    void l.exited.then(() => (gone = true));
    for (;;) {
      const m = l.tail().match(re);
      if (m) return m;
      if (gone) throw new Error(`soak: ${l.name} exited before printing ${re}:\n${l.tail()}`);
      if (Date.now() > end) throw new Error(`soak: ${l.name} did not print ${re} within ${ms} ms:\n${l.tail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGTERM to `l`'s PID; SIGKILL after `graceMs`. Resolves with how it ended and how long it took. */
  async stop(l: Launched, graceMs = 8_000): Promise<{ name: string; code: number | null; signal: NodeJS.Signals | null; ms: number }> {
    const t0 = Date.now();
    if (!alive(l)) return { name: l.name, code: l.child?.exitCode ?? null, signal: l.child?.signalCode ?? null, ms: 0 };
    signal(l.pid, 'SIGTERM');
    const killer = setTimeout(() => signal(l.pid, 'SIGKILL'), graceMs);
    const r = l.child ? await l.exited : await waitGone(l.pid, graceMs + 1_000);
    clearTimeout(killer);
    return { name: l.name, ...r, ms: Date.now() - t0 };
  }

  /** SIGKILL every process still running, by PID, newest first (synchronous: safe in an `exit` handler). */
  killAll(): void {
    for (const l of [...this.#all].reverse()) if (alive(l)) signal(l.pid, 'SIGKILL');
  }
}

function signal(pid: number, s: NodeJS.Signals): void {
  try {
    process.kill(pid, s);
  } catch {
    // already gone
  }
}

/** Whether `l` still runs: our child by its exit status, an adopted PID by signal 0. */
export function alive(l: Launched): boolean {
  if (l.child) return l.child.exitCode === null && l.child.signalCode === null;
  try {
    process.kill(l.pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid: number, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const end = Date.now() + ms;
  const l = { name: '', pid, tail: () => '', exited: Promise.resolve({ code: null, signal: null }) };
  while (alive(l) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return { code: null, signal: null };
}
