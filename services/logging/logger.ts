import pino, { type Logger, type DestinationStream } from 'pino';
import { scrubSecrets } from '../secrets/Secret';

export type { Logger } from 'pino';

/** Fields that can carry credentials in any request or error we log. */
const REDACTED_PATHS = [
  'token',
  'sToken',
  'password',
  'authorization',
  '*.token',
  '*.sToken',
  '*.password',
  '*.authorization',
  'req.headers.authorization',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
];

/**
 * Writes structured JSON lines to `destination` after scrubbing every known secret value: redaction
 * by path catches the fields we expect, scrubbing catches a token inside free text.
 */
function scrubbingStream(destination: DestinationStream): DestinationStream {
  return { write: (line: string) => destination.write(scrubSecrets(line)) };
}

export interface LoggerOptions {
  level?: string;
  /** Where lines go; stdout by default. Tests pass a collector. */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? pino.destination({ dest: 1, sync: false });
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'vpp-books-bot' },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    scrubbingStream(destination),
  );
}

/** A logger that discards everything, for unit tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
