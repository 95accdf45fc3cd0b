import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { PinoPretty } from 'pino-pretty';
import { LiaisonError } from './errors.ts';

export type { Logger } from 'pino';

/** Log formats: `json` (one pino object per line), `pretty` (pino-pretty's readable lines). */
export type LogFormat = 'json' | 'pretty';

/**
 * Where and how logs go, from the environment:
 * - `LIAISON_LOG_LEVEL`: trace, debug, info (default), warn, error, fatal or silent;
 * - `LIAISON_LOG_FILE`: append to this file instead of stderr (created 0600);
 * - `LIAISON_LOG_FORMAT`: `json` or `pretty`; default pretty when the logs go to a terminal, else json.
 * Logs never go to stdout: stdout carries the command's own output (human lines or `-o json`), so the
 * two never interleave in a pipe.
 */
export interface LogSettings {
  level: string;
  file?: string;
  format: LogFormat;
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** Read and validate the LIAISON_LOG_* variables (ERR_USAGE naming the variable when one is wrong: exit 2, like a bad flag). */
export function logSettings(env: NodeJS.ProcessEnv = process.env, stderrIsTty: boolean = process.stderr.isTTY === true): LogSettings {
  const level = env.LIAISON_LOG_LEVEL ?? 'info';
  if (!LEVELS.includes(level)) throw new LiaisonError('ERR_USAGE', `LIAISON_LOG_LEVEL must be one of ${LEVELS.join(', ')}, got "${level}"`, { variable: 'LIAISON_LOG_LEVEL' });
  const format = env.LIAISON_LOG_FORMAT ?? (stderrIsTty && !env.LIAISON_LOG_FILE ? 'pretty' : 'json');
  if (format !== 'json' && format !== 'pretty') throw new LiaisonError('ERR_USAGE', `LIAISON_LOG_FORMAT must be json or pretty, got "${format}"`, { variable: 'LIAISON_LOG_FORMAT' });
  return { level, format, ...(env.LIAISON_LOG_FILE ? { file: env.LIAISON_LOG_FILE } : {}) };
}

function destinationOf(s: LogSettings): DestinationStream {
  // Synchronous writes: a log line written just before exit is never lost (services log per event, not per message).
  const dest = s.file ? pino.destination({ dest: s.file, sync: true, mkdir: true, mode: 0o600 }) : pino.destination({ dest: 2, sync: true });
  if (s.format === 'json') return dest;
  return PinoPretty({ destination: dest, colorize: !s.file && process.stderr.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true });
}

/**
 * Create a pino logger writing to stderr (or `LIAISON_LOG_FILE`), as {@link logSettings} describes.
 * Private keys and message bodies are never logged: the redact list is a backstop, callers must not
 * pass them in the first place.
 */
export function createLogger(options: LoggerOptions & { name?: string } = {}): Logger {
  const s = logSettings();
  return pino(
    {
      level: s.level,
      redact: { paths: ['*.d', '*.privateKey', '*.seed', '*.jwk.d', 'body', '*.body'], censor: '[redacted]' },
      ...options,
    },
    destinationOf(s),
  );
}

/** A logger that drops everything (tests, library callers that pass none). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
