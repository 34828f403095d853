import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../../shared/config/load.ts";
import { planDbConnection } from "../../../../shared/adapters/gcp/cloud-sql.ts";

const base = { MLOPS_RUNTIME: "gcp", GOOGLE_CLOUD_PROJECT: "p", REGION: "europe-west4" };

describe("planDbConnection", () => {
  it("prefers DATABASE_URL over everything", () => {
    const config = loadConfig({ ...base, DATABASE_URL: "postgres://u@db:5432/x", CLOUD_SQL_INSTANCE: "p:europe-west4:mlops" });
    expect(planDbConnection(config, {}, () => true)).toEqual({ kind: "url", connectionString: "postgres://u@db:5432/x" });
  });

  it("uses the /cloudsql/<instance> socket when Cloud Run mounted one", () => {
    const config = loadConfig({ ...base, CLOUD_SQL_INSTANCE: "p:europe-west4:mlops" });
    const seen: string[] = [];
    const plan = planDbConnection(config, {}, (path) => (seen.push(path), true));
    expect(plan).toEqual({ kind: "socket", host: "/cloudsql/p:europe-west4:mlops" });
    expect(seen).toEqual(["/cloudsql/p:europe-west4:mlops/.s.PGSQL.5432"]);
  });

  it("falls back to the connector when there is no socket", () => {
    const config = loadConfig({ ...base, CLOUD_SQL_INSTANCE: "p:europe-west4:mlops" });
    expect(planDbConnection(config, {}, () => false)).toEqual({ kind: "connector", instance: "p:europe-west4:mlops" });
  });

  it("refuses a config without any database", () => {
    const config = loadConfig({});
    expect(() => planDbConnection(config)).toThrow(/set CLOUD_SQL_INSTANCE \(or DATABASE_URL\)/);
  });
});
