import { TransientError, isRetryableDbError } from "../../errors.ts";

/**
 * Retries a whole transaction on serialisation failures and deadlocks (SQLSTATE 40001, 40P01, …):
 * the database rolled it back, so running it again is safe. Gives up as a TransientError so the
 * platform redelivers the message later.
 */
export async function retryTransaction<T>(run: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      const cause = err instanceof TransientError && err.cause ? err.cause : err;
      if (!isRetryableDbError(cause)) throw err;
      if (attempt >= attempts) {
        throw new TransientError(`transaction failed after ${attempts} attempts: ${(cause as Error).message}`, { cause });
      }
      const delay = Math.min(1000, 20 * 2 ** attempt) * (0.5 + Math.random());
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
