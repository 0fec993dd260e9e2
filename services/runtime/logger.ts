import { pino, type Logger } from "pino";

export type { Logger };

/** Structured JSON logs on stdout, one object per line. */
export function createLogger(level: string, base: Record<string, string> = {}): Logger {
  return pino({ level, base: { service: "parley", ...base }, timestamp: pino.stdTimeFunctions.isoTime });
}
