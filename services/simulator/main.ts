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
    process.stderr.write(`demo failed: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}

// Ctrl-C: exit through process.exit so the exchange's nats-server is stopped with us.
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
process.exit(await main());
