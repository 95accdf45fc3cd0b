// A process that logs through createLogger and prints one line of its own output: test/logging.test.ts
// checks where each goes under the LIAISON_LOG_* variables.
import { createLogger } from '../../services/sdk/logging.ts';
import { isLiaisonError } from '../../services/sdk/errors.ts';

try {
  const logger = createLogger({ name: 'probe' });
  logger.info({ agency: 'xa-ncb', body: { secret: 'do-not-log' } }, 'probe logged');
  logger.debug('probe debug line');
  process.stdout.write('command output\n');
} catch (err) {
  process.stderr.write(`${isLiaisonError(err) ? err.toLine() : String(err)}\n`);
  process.exitCode = 2;
}
