import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadConfig, type Config } from "../config/load.ts";
import type { StatusSnapshot } from "../core/status/snapshot.ts";
import type { Db } from "../ports.ts";

/** Where a running `mlops start` says it is, so other CLI calls talk to it instead of its database. */
export interface RuntimeInfo {
  pid: number;
  url: string | null;
  startedAt: string;
}

export function configFromEnv(overrides: Record<string, string | undefined> = {}): Config {
  const config = loadConfig({ ...process.env, ...overrides });
  config.workspace = resolve(config.workspace);
  return config;
}

const infoFile = (workspace: string) => join(workspace, "runtime.json");

export function writeRuntimeInfo(workspace: string, info: RuntimeInfo): void {
  writeFileSync(infoFile(workspace), JSON.stringify(info, null, 2));
}

export function clearRuntimeInfo(workspace: string): void {
  rmSync(infoFile(workspace), { force: true });
}

/** The running runtime of this workspace, or null (a stale file from a killed process is ignored). */
export function runningRuntime(workspace: string): RuntimeInfo | null {
  const file = infoFile(workspace);
  if (!existsSync(file)) return null;
  try {
    const info = JSON.parse(readFileSync(file, "utf8")) as RuntimeInfo;
    process.kill(info.pid, 0);
    return info;
  } catch {
    return null;
  }
}

/** The status snapshot: from the running runtime's API, else straight from the database. */
export async function readStatus(config: Config): Promise<StatusSnapshot> {
  const running = config.runtime === "local" ? runningRuntime(config.workspace) : null;
  if (running?.url) {
    const res = await fetch(new URL("api/status", running.url));
    if (!res.ok) throw new Error(`the runtime at ${running.url} answered ${res.status}`);
    return (await res.json()) as StatusSnapshot;
  }
  const { openDb } = await import("./open-db.ts");
  const db = await openDb(config);
  try {
    const { readStatusSnapshot } = await import("../db/queries/status.ts");
    return await readStatusSnapshot(db);
  } finally {
    await db.close();
  }
}

/**
 * One read for the CLI: from the running runtime's dashboard API (`apiPath`, 404 = null), else
 * straight from the database, so the CLI never opens the embedded database behind the runtime's back.
 */
export async function readViaRuntimeOrDb<T>(config: Config, apiPath: string, fromDb: (db: Db) => Promise<T | null>): Promise<T | null> {
  const running = config.runtime === "local" ? runningRuntime(config.workspace) : null;
  if (running?.url) {
    const res = await fetch(new URL(apiPath.replace(/^\//, ""), running.url));
    if (res.status === 404) return null;
    if (!res.ok) throw new Error(`the runtime at ${running.url} answered ${res.status}`);
    return (await res.json()) as T;
  }
  const { openDb } = await import("./open-db.ts");
  const db = await openDb(config);
  try {
    return await fromDb(db);
  } finally {
    await db.close();
  }
}
