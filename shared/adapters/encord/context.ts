import type { Config } from "../../config/load.ts";
import { PermanentError } from "../../errors.ts";
import type { Clock, Logger } from "../../ports.ts";
import { EncordApi, type CloudIntegration } from "./api.ts";
import { EncordAuthError } from "./errors.ts";
import { EncordTransport, type EncordTransportOptions } from "./http.ts";
import { loadEncordKey, type EncordKey } from "./keys.ts";
import type { Project, StorageFolder } from "./schemas.ts";

/**
 * What the backend's operations share: the API client, the settings they need, and lookups done
 * once per backend instance (integration, folder, dataset attachment, ontology).
 */

export interface EncordSettings {
  integration: string;
  folder: string;
  projectHash: string;
  datasetHash: string;
  completeStage: string;
  classNames: string[];
}

export interface EncordClientDeps {
  log: Logger;
  clock: Clock;
  fetch?: typeof globalThis.fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Transport tuning (timeouts, retries, backoff); mostly for tests. */
  transport?: Partial<Omit<EncordTransportOptions, "domain" | "key" | "clock" | "log" | "fetch" | "sleep">>;
}

/** Builds the signed client for the configured domain and key; the key is read on first use. */
export function createEncordClient(config: Config, deps: EncordClientDeps): { api: EncordApi; key: () => Promise<EncordKey> } {
  let keyPromise: Promise<EncordKey> | undefined;
  const key = () => {
    keyPromise ??= loadEncordKey({ sshKeyFile: config.encord.sshKeyFile, sshKey: config.encord.sshKey }).catch((err: unknown) => {
      keyPromise = undefined; // a fixed file is picked up on the next call
      throw err;
    });
    return keyPromise;
  };
  const transport = new EncordTransport({
    ...deps.transport,
    domain: config.encord.domain,
    key,
    clock: deps.clock,
    log: deps.log.child({ component: "encord" }),
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
  });
  return { api: new EncordApi(transport), key };
}

export function encordSettings(config: Config): EncordSettings {
  const { integration, projectHash, datasetHash } = config.encord;
  const missing = [
    ...(integration ? [] : ["ENCORD_INTEGRATION"]),
    ...(projectHash ? [] : ["ENCORD_PROJECT_HASH"]),
    ...(datasetHash ? [] : ["ENCORD_DATASET_HASH"]),
  ];
  if (missing.length > 0 || !integration || !projectHash || !datasetHash) {
    throw new PermanentError("encord_not_configured", `the Encord backend needs ${missing.join(", ")}`);
  }
  return { integration, folder: config.encord.folder, projectHash, datasetHash, completeStage: config.encord.completeStage, classNames: config.annotation.ontology };
}

/** Finds the integration by title or uuid, with a readable error listing what exists. */
export async function findIntegration(api: EncordApi, wanted: string): Promise<CloudIntegration> {
  const all = await api.listCloudIntegrations();
  const found = all.find((i) => i.uuid === wanted) ?? all.find((i) => i.title === wanted);
  if (!found) {
    const known = all.map((i) => `"${i.title}"`).join(", ") || "none";
    throw new PermanentError("encord_integration_not_found", `Encord cloud integration "${wanted}" not found (this key sees: ${known})`);
  }
  return found;
}

/** Re-words an auth failure once, at the edge of an operation, so the alert says what to do. */
export function explainAuthFailure(err: unknown, operation: string): unknown {
  if (!(err instanceof EncordAuthError)) return err;
  const text = err.accessRefused
    ? `Encord ${operation} stopped: access was refused (${err.message}). Does the key's Encord user have access to the project, the dataset, the storage folder and the cloud integration?`
    : `Encord ${operation} stopped: the credentials were refused (${err.message}). Is the SSH key registered to an Encord user with access to the project?`;
  return new EncordAuthError(text, { encordCode: err.encordCode, httpStatus: err.httpStatus, payload: err.payload });
}

export interface EncordContext {
  api: EncordApi;
  settings: EncordSettings;
  log: Logger;
  clock: Clock;
  sleep: (ms: number) => Promise<void>;
  integration(): Promise<CloudIntegration>;
  folder(): Promise<StorageFolder>;
  /** Attaches the dataset to the project once per instance. */
  ensureDatasetInProject(): Promise<void>;
  /** The project (workflow stages, editor ontology), read once per instance. */
  project(): Promise<Project>;
  /** The uuid of the configured Complete stage; a PermanentError naming the stages when it is missing. */
  completeStageUuid(): Promise<string>;
  /** Most label rows per `labelrow` GET; shrinks when Encord says so and stays shrunk. */
  labelChunkSize: number;
}

/** Caches a lookup's promise; a failure is forgotten so the next call tries again. */
export function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let cached: Promise<T> | undefined;
  return () => {
    cached ??= fn().catch((err: unknown) => {
      cached = undefined;
      throw err;
    });
    return cached;
  };
}

export function createContext(api: EncordApi, settings: EncordSettings, deps: { log: Logger; clock: Clock; sleep?: (ms: number) => Promise<void> }): EncordContext {
  const log = deps.log.child({ component: "encord" });
  const folder = once(async () => {
    // Look before creating: folder create is not idempotent and Encord allows duplicate names.
    // Search first (cheap); a full listing before creating, as search semantics are undocumented.
    let candidates = (await api.listFolders(settings.folder)).filter((f) => f.name === settings.folder);
    if (candidates.length === 0) candidates = (await api.listFolders(null)).filter((f) => f.name === settings.folder);
    if (candidates.length > 1) log.warn("several Encord folders share the configured name; using the first", { folder: settings.folder, count: candidates.length });
    if (candidates[0]) return candidates[0];
    log.info("creating Encord storage folder", { folder: settings.folder });
    return api.createFolder(settings.folder, "Items registered by the mlops loop");
  });
  const project = once(() => api.getProject(settings.projectHash));
  return {
    api,
    settings,
    log,
    project,
    completeStageUuid: async () => {
      const { title, workflow } = await project();
      const stages = workflow?.stages ?? [];
      const stage = stages.find((s) => s.title === settings.completeStage);
      if (!stage) {
        const names = stages.map((s) => `"${s.title}"`).join(", ") || "none (not a workflow project)";
        throw new PermanentError("encord_no_complete_stage", `Encord project "${title}" has no stage titled "${settings.completeStage}" (stages: ${names}); set ENCORD_COMPLETE_STAGE`);
      }
      return stage.uuid;
    },
    clock: deps.clock,
    sleep: deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    integration: once(() => findIntegration(api, settings.integration)),
    folder,
    ensureDatasetInProject: once(async () => {
      const attached = await api.listProjectDatasetHashes(settings.projectHash);
      if (!attached.includes(settings.datasetHash)) {
        log.info("attaching the Encord dataset to the project", { datasetHash: settings.datasetHash, projectHash: settings.projectHash });
        await api.addDatasetToProject(settings.projectHash, settings.datasetHash);
      }
    }),
    labelChunkSize: 100,
  };
}
