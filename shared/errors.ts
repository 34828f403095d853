/**
 * Errors say what should happen next.
 *
 * - `PermanentError`: bad input or a refusal by policy. Record it, alert, acknowledge the message.
 *   Retrying cannot help.
 * - `TransientError`: the network, a 429/5xx, a serialisation conflict. Throw so the platform
 *   (Pub/Sub, Eventarc, the local dispatcher) redelivers with backoff.
 */
export class PermanentError extends Error {
  override readonly name = "PermanentError";
  /** A short machine-readable reason, e.g. `corrupt_zip`, `unknown_class`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export class TransientError extends Error {
  override readonly name: string = "TransientError";
  /** Milliseconds the caller asked us to wait (e.g. from a `Retry-After` header). */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/** Normalise anything thrown into an Error. */
export function coerceError(err: unknown): Error & { code?: unknown } {
  if (err instanceof Error) return err;
  if (typeof err === "string") return new Error(err);
  try {
    return new Error(JSON.stringify(err));
  } catch {
    return new Error(String(err));
  }
}

/**
 * Postgres SQLSTATEs worth a retry. Everything else from the database is a bug or bad data.
 * 40001 serialization_failure, 40P01 deadlock_detected, 57P03 cannot_connect_now,
 * 08xxx connection exceptions, 53300 too_many_connections, 55P03 lock_not_available.
 */
export const RETRYABLE_SQLSTATES: ReadonlySet<string> = new Set([
  "40001", "40P01", "57P03", "08000", "08003", "08006", "08001", "08004", "53300", "55P03",
]);

export function isRetryableDbError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && RETRYABLE_SQLSTATES.has(code);
}

/** True when an error (or its cause chain) is a TransientError or a retryable database error. */
export function isTransient(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; current && depth < 8; depth++) {
    if (current instanceof TransientError) return true;
    if (current instanceof PermanentError) return false;
    if (isRetryableDbError(current)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** A one-line description safe to store and show (no stack, bounded length). */
export function describeError(err: unknown, maxLength = 500): string {
  const e = coerceError(err);
  const code = e instanceof PermanentError ? `${e.code}: ` : "";
  const text = `${code}${e.message}`.replace(/\s+/g, " ").trim();
  return text.length > maxLength ? `${text.slice(0, maxLength - 1)}…` : text;
}
