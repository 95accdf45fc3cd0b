import type { ServerResponse } from 'node:http';
import type { SimEvent } from '../simulator/events.ts';
import type { PlaybackState } from './playback.ts';
import type { WhatIf } from './whatif.ts';

/** Which run an event belongs to: the scenario under its own policy, or under a draft (what-if). */
export type RunName = 'main' | 'draft';

/** What the console tells its pages besides the simulator's events. */
export type ConsoleEvent =
  | SimEvent
  | { kind: 'playback'; state: PlaybackState }
  | { kind: 'whatif'; whatif: WhatIf }
  | { kind: 'run-failed'; message: string };

/** One event on the wire: its number, run, the server's clock when published (ms since the epoch), the event. */
export interface Envelope {
  n: number;
  run: RunName;
  at: number;
  e: ConsoleEvent;
}

/** The console shows metadata only: drop the one body an event may carry (the centre's alert). */
function metadataOnly(e: ConsoleEvent): ConsoleEvent {
  if (e.kind !== 'centre-alert') return e;
  const { body: _body, ...rest } = e;
  return { ...rest, body: {} };
}

/**
 * The console's event hub: every event published is numbered, kept (a page that connects late replays
 * the run from the start) and written to every connected page as a server-sent event.
 */
export class EventHub {
  readonly #history: Envelope[] = [];
  readonly #pages = new Set<ServerResponse>();
  readonly #listeners = new Set<(e: Envelope) => void>();

  /** Publish an event of a run. */
  publish(run: RunName, e: ConsoleEvent): Envelope {
    const env: Envelope = { n: this.#history.length + 1, run, at: Date.now(), e: metadataOnly(e) };
    this.#history.push(env);
    const data = `id: ${env.n}\ndata: ${JSON.stringify(env)}\n\n`;
    for (const page of this.#pages) page.write(data);
    for (const l of this.#listeners) l(env);
    return env;
  }

  /** Every event published so far. */
  history(): readonly Envelope[] {
    return this.#history;
  }

  /** Call `f` on each event published from now on; returns the unsubscribe. */
  listen(f: (e: Envelope) => void): () => void {
    this.#listeners.add(f);
    return () => this.#listeners.delete(f);
  }

  /** Number of pages connected now. */
  pages(): number {
    return this.#pages.size;
  }

  /** Attach a page's response as an event stream: the history first, then each event as it is published. */
  attach(res: ServerResponse, onOpen?: () => void): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-content-type-options': 'nosniff' });
    res.write(': liaison console\n\n');
    for (const env of this.#history) res.write(`id: ${env.n}\ndata: ${JSON.stringify(env)}\n\n`);
    this.#pages.add(res);
    res.on('close', () => this.#pages.delete(res));
    onOpen?.();
  }

  /** End every page's stream (the server is stopping). */
  close(): void {
    for (const page of this.#pages) page.end();
    this.#pages.clear();
  }
}
