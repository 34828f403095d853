import { PGlite, type Transaction } from "@electric-sql/pglite";
import type { Db, QueryResult, Queryable } from "../../ports.ts";
import { retryTransaction } from "./retry.ts";

/**
 * PGlite: Postgres compiled to WASM, in-process, one connection. The embedded default of the local
 * runtime (data in the workspace folder) and the fast leg of the test suite (in memory).
 * Transactions are serialised by PGlite itself.
 */
export async function createPgliteDb(dataDir?: string): Promise<Db> {
  const pglite = dataDir ? new PGlite(dataDir) : new PGlite();
  await pglite.waitReady;
  return wrapPglite(pglite);
}

function wrap(q: PGlite | Transaction): Queryable {
  return {
    async query<R>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const res = await q.query<R>(text, params as unknown[] | undefined);
      // PGlite reports affectedRows = 0 for SELECT; count rows whenever the statement returned any.
      const rowCount = res.fields.length > 0 ? res.rows.length : (res.affectedRows ?? 0);
      return { rows: res.rows, rowCount };
    },
    async exec(sql: string): Promise<void> {
      await q.exec(sql);
    },
  };
}

export function wrapPglite(pglite: PGlite): Db {
  const root = wrap(pglite);
  return {
    kind: "pglite",
    query: root.query,
    exec: root.exec,
    transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return retryTransaction(() => pglite.transaction((tx) => fn(wrap(tx))));
    },
    async close() {
      if (!pglite.closed) await pglite.close();
    },
  };
}
