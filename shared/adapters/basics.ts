import { randomBytes } from "node:crypto";
import type { Clock, IdGenerator, LogFields, Logger } from "../ports.ts";

export const systemClock: Clock = { now: () => new Date() };

const CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz";

/** Time-ordered ids (ULID-like, lower-case): `<prefix>_<10 chars time><16 chars random>`. */
export const randomIds: IdGenerator = {
  next(prefix: string): string {
    let time = Date.now();
    let t = "";
    for (let i = 0; i < 10; i++) {
      t = CROCKFORD[time % 32] + t;
      time = Math.floor(time / 32);
    }
    const bytes = randomBytes(16);
    let r = "";
    for (const b of bytes) r += CROCKFORD[b % 32];
    return `${prefix}_${t}${r}`;
  },
};

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};

/** A logger that keeps entries in memory, for tests that assert on logging. */
export function memoryLogger(sink: { level: string; message: string; fields: LogFields }[] = [], base: LogFields = {}): Logger & { entries: typeof sink } {
  const log = (level: string) => (message: string, fields?: LogFields) => {
    sink.push({ level, message, fields: { ...base, ...fields } });
  };
  return {
    entries: sink,
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
    child: (fields) => memoryLogger(sink, { ...base, ...fields }),
  };
}
