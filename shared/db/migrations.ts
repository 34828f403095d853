import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Migration } from "./migrate.ts";

const dir = fileURLToPath(new URL("./migrations/", import.meta.url));

/** The migrations shipped with the code (`shared/db/migrations/NNNN_name.sql`). */
export function loadMigrations(): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ id: f.replace(/\.sql$/, ""), sql: readFileSync(dir + f, "utf8") }));
}
