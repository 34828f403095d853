import type { Config } from "../config/load.ts";
import type { Db } from "../ports.ts";

/** The database for CLI work: the local one (PGlite / DATABASE_URL) or Cloud SQL on GCP. */
export async function openDb(config: Config): Promise<Db> {
  if (config.runtime === "gcp" && !config.db.url) {
    const { createCloudSqlDb } = await import("../adapters/gcp/cloud-sql.ts");
    return createCloudSqlDb(config);
  }
  const { openLocalDb } = await import("../runtime/local.ts");
  return openLocalDb(config);
}
