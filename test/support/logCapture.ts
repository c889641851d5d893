import { createLogger, type Logger } from '../../services/logging/logger';
import { secretsLedger } from './secretsLedger';

/**
 * A real pino logger whose JSON lines are kept in memory, so tests can read what operators would see.
 * Every line also goes to the secrets ledger, which fails the run if any holds a token.
 */
export function capturingLogger(level = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const write = (line: string) => {
    lines.push(line);
    secretsLedger.record('log line', line);
  };
  const logger = createLogger({ level, destination: { write } });
  return { logger, lines };
}
