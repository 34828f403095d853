import { existsSync } from "node:fs";
import type pg from "pg";
import { ConfigError, type Config } from "../../config/load.ts";
import { TransientError } from "../../errors.ts";
import type { Db } from "../../ports.ts";
import { createPgDb } from "../db/pg.ts";

export interface CloudSqlDbOptions {
  /** How the connector reaches the instance; public IP with the connector's mTLS by default. */
  ipType?: "PUBLIC" | "PRIVATE" | "PSC";
  /** Where Cloud Run mounts instance sockets (jobs with a `cloud_sql_instance` volume). */
  socketDir?: string;
}

export type DbConnectionPlan =
  | { kind: "url"; connectionString: string }
  | { kind: "socket"; host: string }
  | { kind: "connector"; instance: string };

/**
 * Which way to the database, in order: `DATABASE_URL` wins (tests, a proxy, another Postgres);
 * then the `/cloudsql/<instance>` unix socket when Cloud Run mounted one; then the Cloud SQL Node
 * connector (gen2 functions have no socket volume).
 */
export function planDbConnection(config: Config, options: CloudSqlDbOptions = {}, socketExists: (path: string) => boolean = existsSync): DbConnectionPlan {
  if (config.db.url) return { kind: "url", connectionString: config.db.url };
  const instance = config.db.cloudSqlInstance;
  // Jobs never open the database, so the config does not insist on one; functions do, here.
  if (!instance) throw new ConfigError(["no database configured: set CLOUD_SQL_INSTANCE (or DATABASE_URL) for the functions"]);
  const socket = `${options.socketDir ?? "/cloudsql"}/${instance}`;
  // Postgres listens on <dir>/.s.PGSQL.5432 inside the mounted folder.
  if (socketExists(`${socket}/.s.PGSQL.5432`)) return { kind: "socket", host: socket };
  return { kind: "connector", instance };
}

/**
 * A `Db` on Cloud SQL for Postgres. With the connector, `DB_IAM_AUTH=true` logs in as the service
 * account (no password; the database user is the SA email without `.gserviceaccount.com`), else
 * `DB_USER` + `DB_PASSWORD` (a Secret Manager env var). Closing the Db also closes the connector's
 * certificate refresh timers, so a job process can exit.
 */
export async function createCloudSqlDb(config: Config, options: CloudSqlDbOptions = {}): Promise<Db> {
  const plan = planDbConnection(config, options);
  const max = config.db.poolMax;
  if (plan.kind === "url") return createPgDb({ connectionString: plan.connectionString, max });

  const auth: pg.PoolConfig = {
    database: config.db.name,
    ...(config.db.user ? { user: config.db.user } : {}),
    ...(config.db.password && !config.db.iamAuth ? { password: config.db.password } : {}),
  };
  if (plan.kind === "socket") return createPgDb({ poolConfig: { ...auth, host: plan.host }, max });

  const { Connector, IpAddressTypes, AuthTypes } = await import("@google-cloud/cloud-sql-connector");
  const connector = new Connector();
  let clientOptions: Awaited<ReturnType<typeof connector.getOptions>>;
  try {
    clientOptions = await connector.getOptions({
      instanceConnectionName: plan.instance,
      ipType: IpAddressTypes[options.ipType ?? config.db.ipType],
      authType: config.db.iamAuth ? AuthTypes.IAM : AuthTypes.PASSWORD,
    });
  } catch (err) {
    connector.close();
    // Fetching the instance metadata and ephemeral certificate goes over the network: retry later.
    throw new TransientError(`cannot reach Cloud SQL instance ${plan.instance}: ${(err as Error).message}`, { cause: err });
  }
  const db = createPgDb({ poolConfig: { ...clientOptions, ...auth } as pg.PoolConfig, max });
  return {
    ...db,
    async close() {
      try {
        await db.close();
      } finally {
        connector.close();
      }
    },
  };
}
