import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** The repository root. */
export const ROOT = join(import.meta.dirname, '../..');
/** The pinned Node 24 (runs the TypeScript sources directly). */
export const NODE = join(ROOT, 'node_modules/.bin/node');
/** The real `liaison` binary, as `npx liaison` runs it. */
export const LIAISON_BIN = join(ROOT, 'services/cli/bin/liaison.mjs');

/** What a finished process printed and its exit status. */
export interface BinRun {
  code: number | null;
  out: string;
  err: string;
}

/** A `liaison` (or other node script) process still running, its output so far. */
export interface BinProcess {
  child: ChildProcess;
  out(): string;
  err(): string;
  /** Resolves when stdout has printed a line matching `re` (rejects after `timeoutMs`, or when the process ends first). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit status and everything printed. */
  done: Promise<BinRun>;
}

/** Start `node SCRIPT ...args` (default script: the liaison binary) with extra environment variables. */
export function startBin(args: string[], env: Record<string, string | undefined> = {}, script = LIAISON_BIN): BinProcess {
  const child = spawn(NODE, [script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LIAISON_LOG_LEVEL: 'warn', ...env } });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const done = new Promise<BinRun>((resolve) => child.once('close', (code) => resolve({ code, out, err })));
  return {
    child,
    out: () => out,
    err: () => err,
    done,
    async waitFor(re, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let ended = false;
      void done.then(() => (ended = true));
      while (!re.test(out)) {
        if (ended || Date.now() > deadline) throw new Error(`no line matching ${re} (${ended ? 'process ended' : 'timeout'}); stdout: ${out}; stderr: ${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** Run `liaison ...args` (or another script) to the end; SIGKILLed after `timeoutMs` (exit status null then). */
export async function runBin(args: string[], env: Record<string, string | undefined> = {}, script = LIAISON_BIN, timeoutMs = 60_000): Promise<BinRun> {
  const p = startBin(args, env, script);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  try {
    return await p.done;
  } finally {
    clearTimeout(timer);
  }
}
