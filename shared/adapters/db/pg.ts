import pg from "pg";
import { TransientError, isRetryableDbError } from "../../errors.ts";
import type { Db, QueryResult, Queryable } from "../../ports.ts";
import { retryTransaction } from "./retry.ts";

// bigint (int8) and numeric come back as numbers, as PGlite returns them, so queries behave the
// same on both adapters. Our int8 values (counts, ids, byte sizes) stay far below 2^53.
const types = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === 20 || oid === 1700) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as "text");
  },
};

export interface PgDbOptions {
  connectionString?: string;
  /** A ready pool config (e.g. from the Cloud SQL connector). */
  poolConfig?: pg.PoolConfig;
  max?: number;
  /** Schema to put first on the search_path (tests isolate themselves this way). */
  schema?: string;
}

function wrap(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query<R>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      try {
        const res = await client.query(text, params as unknown[] | undefined);
        return { rows: res.rows as R[], rowCount: res.rowCount ?? res.rows.length };
      } catch (err) {
        throw classify(err);
      }
    },
    async exec(sql: string): Promise<void> {
      try {
        await client.query(sql);
      } catch (err) {
        throw classify(err);
      }
    },
  };
}

function classify(err: unknown): unknown {
  const code = (err as { code?: string }).code;
  // Connection-level failures (ECONNREFUSED, ECONNRESET, …) are worth a retry by the platform.
  if (isRetryableDbError(err) || (typeof code === "string" && code.startsWith("E"))) {
    return new TransientError(`database: ${(err as Error).message}`, { cause: err });
  }
  return err;
}

export function createPgDb(options: PgDbOptions): Db {
  const config: pg.PoolConfig = {
    ...(options.poolConfig ?? {}),
    max: options.max ?? options.poolConfig?.max ?? 5,
    types,
  };
  if (options.connectionString) config.connectionString = options.connectionString;
  if (options.schema) config.options = `-c search_path=${options.schema},public`;
  const pool = new pg.Pool(config);
  // An idle client that errors (server restart) must not crash the process.
  pool.on("error", () => undefined);
  const root = wrap(pool);

  return {
    kind: "pg",
    query: root.query,
    exec: root.exec,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return retryTransaction(async () => {
        let client: pg.PoolClient;
        try {
          client = await pool.connect();
        } catch (err) {
          throw new TransientError(`database connect failed: ${(err as Error).message}`, { cause: err });
        }
        try {
          await client.query("BEGIN");
          const result = await fn(wrap(client));
          await client.query("COMMIT");
          return result;
        } catch (err) {
          await client.query("ROLLBACK").catch(() => undefined);
          throw err;
        } finally {
          client.release();
        }
      });
    },
    async close() {
      await pool.end();
    },
  };
}
