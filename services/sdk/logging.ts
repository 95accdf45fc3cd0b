import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Create a pino logger. Private keys and message bodies are never logged: the redact list is a
 * backstop, callers must not pass them in the first place.
 */
export function createLogger(options: LoggerOptions & { name?: string } = {}): Logger {
  return pino({
    level: process.env.LIAISON_LOG_LEVEL ?? 'info',
    redact: { paths: ['*.d', '*.privateKey', '*.seed', '*.jwk.d', 'body', '*.body'], censor: '[redacted]' },
    ...options,
  });
}

/** A logger that drops everything (tests, library callers that pass none). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
