import { createLogger, type Logger } from '../../services/logging/logger';

/** A real pino logger whose JSON lines are kept in memory, so tests can read what operators would see. */
export function capturingLogger(level = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({ level, destination: { write: (line: string) => void lines.push(line) } });
  return { logger, lines };
}
