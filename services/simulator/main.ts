import { isLiaisonError } from '../sdk/errors.ts';
import { createLogger } from '../sdk/logging.ts';
import { runDemo } from './demo.ts';

/**
 * `npm start`: play the demo against a real local exchange and exit 0 when every expectation held
 * (1 otherwise). `LIAISON_LOG_LEVEL=debug` shows the services' logs; `--keep` keeps the temp dir.
 */
async function main(): Promise<number> {
  const logger = createLogger({ name: 'demo', level: process.env.LIAISON_LOG_LEVEL ?? 'silent' });
  try {
    const r = await runDemo({ out: (l) => process.stdout.write(`${l}\n`), logger, keep: process.argv.includes('--keep') });
    return r.failures.length === 0 ? 0 : 1;
  } catch (err) {
    // A user's or machine's problem (e.g. ERR_NATS_SERVER_MISSING) is one line naming the fix; only a bug shows its stack.
    process.stderr.write(`demo failed: ${isLiaisonError(err) && err.code !== 'ERR_INTERNAL' ? err.toLine() : ((err as Error).stack ?? String(err))}\n`);
    return 1;
  }
}

// Ctrl-C: exit through process.exit so the exchange's nats-server is stopped with us.
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
process.exit(await main());
