import pino, { type DestinationStream } from "pino";
import type { LogFields, Logger } from "../../ports.ts";

const SEVERITY: Record<string, string> = { trace: "DEBUG", debug: "DEBUG", info: "INFO", warn: "WARNING", error: "ERROR", fatal: "CRITICAL" };

// Keys whose values must never reach a log line, whatever a caller passes in.
const REDACT = ["*.password", "*.token", "*.sshKey", "*.privateKey", "*.authorization", "*.Authorization", "password", "token", "sshKey", "privateKey", "authorization"];

/**
 * JSON-line logger in the shape Cloud Logging parses: `severity`, `message`, `time`, plus fields.
 * The functions framework and Cloud Run jobs pick these up from stdout as structured entries.
 */
export function createLogger(options: { level?: string; base?: LogFields; destination?: DestinationStream } = {}): Logger {
  const instance = pino(
    {
      level: options.level ?? "info",
      messageKey: "message",
      base: options.base ?? {},
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT, censor: "[redacted]" },
      formatters: { level: (label) => ({ severity: SEVERITY[label] ?? "DEFAULT" }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
  return fromPino(instance);
}

function fromPino(p: pino.Logger): Logger {
  return {
    debug: (message, fields) => p.debug(fields ?? {}, message),
    info: (message, fields) => p.info(fields ?? {}, message),
    warn: (message, fields) => p.warn(fields ?? {}, message),
    error: (message, fields) => p.error(fields ?? {}, message),
    child: (fields) => fromPino(p.child(fields)),
  };
}
