import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { startConsole } from '../../console/server.ts';
import { LiaisonError } from '../../sdk/errors.ts';
import { createLogger } from '../../sdk/logging.ts';
import { DEFAULT_SCENARIO } from '../../simulator/demo.ts';
import { loadScenario } from '../../simulator/scenario.ts';
import { int, str, type Command } from '../args.ts';

const consoleCommand: Command = {
  path: ['console'],
  summary: 'a live console in the browser (127.0.0.1): the scenario plays against a real local exchange while you watch the federation, messages, tiers, cases, the centre, the audit ledger, and a draft policy what-if',
  usage: 'liaison console [--scenario FILE.yaml] [--port N] [--paused] [--draft POLICY.yaml]',
  options: { scenario: { type: 'string' }, port: { type: 'string' }, paused: { type: 'boolean' }, draft: { type: 'string' } },
  async run(args, io) {
    const scenario = await loadScenario(str(args, 'scenario') ?? DEFAULT_SCENARIO);
    const port = int(args, 'port', 0, 65_535) ?? 4173;
    const logger = createLogger({ name: 'console', level: process.env.LIAISON_LOG_LEVEL ?? 'silent' });
    const c = await startConsole({ scenario, port, logger, ...(args.values.paused ? { paused: true } : {}) });
    try {
      const draft = str(args, 'draft');
      if (draft) {
        const text = await readFile(resolve(draft), 'utf8').catch((err: unknown) => {
          throw new LiaisonError('ERR_CONFIG_INVALID', `cannot read the draft policy ${draft}: ${(err as Error).message}`, { file: draft });
        });
        await c.session.loadDraft(text, draft);
      }
      io.out(`Liaison console: ${c.url} — open it in a browser; the scenario "${scenario.title}" plays when the page connects. Ctrl-C stops.`);
      await io.interrupted;
      io.out('stopping the console (the scenario\'s federation is stopped and removed)…');
    } finally {
      await c.stop();
    }
    return 0;
  },
};

/** `liaison console`. */
export const CONSOLE_COMMANDS: readonly Command[] = [consoleCommand];
