import type { Config } from "../../config/load.ts";
import { PermanentError } from "../../errors.ts";
import { bindLabelStudioConfig, labelingConfigFor, type LabelStudioBinding } from "../../core/annotation/labelstudio-config.ts";
import { parseObjectUri } from "../../core/uri.ts";
import type { Clock, Logger } from "../../ports.ts";
import { once } from "../encord/context.ts";
import { LabelStudioApi, type LsProject } from "./api.ts";
import { LabelStudioTransport, type LsTransportOptions } from "./http.ts";

/** What the backend's operations share: the client, the settings, the project looked up once. */

export interface LabelStudioSettings {
  url: string;
  /** A numeric id, or a title to find (or create) the project by. */
  project: string;
  imageUrlPrefix: string | undefined;
  classNames: string[];
}

export interface LabelStudioClientDeps {
  log: Logger;
  clock: Clock;
  fetch?: typeof globalThis.fetch;
  sleep?: (ms: number) => Promise<void>;
  transport?: Partial<Pick<LsTransportOptions, "maxRetries" | "backoffMs" | "requestTimeoutMs" | "maxRetryAfterMs">>;
}

export function labelStudioSettings(config: Config): LabelStudioSettings {
  const { url, apiKey } = config.labelStudio;
  const missing = [...(url ? [] : ["LABEL_STUDIO_URL"]), ...(apiKey ? [] : ["LABEL_STUDIO_API_KEY"])];
  if (missing.length > 0 || !url) throw new PermanentError("labelstudio_not_configured", `the Label Studio backend needs ${missing.join(", ")}`);
  return { url, project: config.labelStudio.project, imageUrlPrefix: config.labelStudio.imageUrlPrefix, classNames: config.annotation.ontology };
}

export function createLabelStudioClient(config: Config, deps: LabelStudioClientDeps): LabelStudioApi {
  const settings = labelStudioSettings(config);
  const transport = new LabelStudioTransport({
    ...deps.transport,
    baseUrl: settings.url,
    apiKey: () => {
      const key = config.labelStudio.apiKey;
      if (!key) throw new PermanentError("labelstudio_not_configured", "LABEL_STUDIO_API_KEY is not set");
      return key;
    },
    log: deps.log.child({ component: "labelstudio" }),
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
  });
  return new LabelStudioApi(transport);
}

export interface LabelStudioContext {
  api: LabelStudioApi;
  settings: LabelStudioSettings;
  log: Logger;
  clock: Clock;
  /** The project, found by id or title (created with the generated config when a title is new). */
  project(): Promise<LsProject>;
  /** The project's BrushLabels control; a PermanentError naming the fix when a class is missing. */
  binding(): Promise<LabelStudioBinding & { control: string; imageKey: string }>;
  /** The URL a task carries for an object of the annotation bucket. */
  imageUrl(uri: string): string;
}

/** Reads the project (numeric id) or finds it by title, creating it when no project has the title. */
export async function resolveProject(api: LabelStudioApi, settings: LabelStudioSettings, log: Logger, create: boolean): Promise<LsProject> {
  if (/^\d+$/.test(settings.project)) return api.getProject(Number(settings.project));
  const found = (await api.findProjects(settings.project)).filter((p) => p.title === settings.project);
  if (found.length > 1) log.warn("several Label Studio projects share the configured title; using the oldest", { title: settings.project, count: found.length });
  const first = found.sort((a, b) => a.id - b.id)[0];
  // The listing may leave out the config: read the project itself.
  if (first) return api.getProject(first.id);
  if (!create) throw new PermanentError("labelstudio_project_missing", `no Label Studio project titled "${settings.project}" (the first registration creates it; or set LABEL_STUDIO_PROJECT to a project id)`);
  log.info("creating the Label Studio project", { title: settings.project });
  const created = await api.createProject(settings.project, labelingConfigFor(settings.classNames), "Items registered by the mlops loop");
  return api.getProject(created.id);
}

export function createContext(api: LabelStudioApi, settings: LabelStudioSettings, deps: { log: Logger; clock: Clock }): LabelStudioContext {
  const log = deps.log.child({ component: "labelstudio" });
  const project = once(() => resolveProject(api, settings, log, true));
  return {
    api,
    settings,
    log,
    clock: deps.clock,
    project,
    binding: once(async () => {
      const p = await project();
      const binding = bindLabelStudioConfig(p.parsed_label_config ?? {}, settings.classNames);
      if (!binding.control || !binding.imageKey || binding.missing.length > 0) {
        throw new PermanentError("labelstudio_config_unbound", `${describeUnbound(p, binding)}; set the project's labeling config to:\n${labelingConfigFor(settings.classNames)}`);
      }
      return { ...binding, control: binding.control, imageKey: binding.imageKey };
    }),
    imageUrl: (uri) => {
      if (!settings.imageUrlPrefix) return uri;
      const { bucket, name } = parseObjectUri(uri);
      return `${settings.imageUrlPrefix}${bucket}/${name.split("/").map(encodeURIComponent).join("/")}`;
    },
  };
}

export function describeUnbound(p: LsProject, binding: LabelStudioBinding): string {
  const where = `Label Studio project ${p.id} ("${p.title ?? ""}")`;
  if (!binding.control) return `${where} has no BrushLabels control on an Image`;
  if (!binding.imageKey) return `${where}: the Image of control "${binding.control}" reads no task data key`;
  return `${where}: control "${binding.control}" has no Label for ${binding.missing.map((n) => `"${n}"`).join(", ")} (labels are matched by exact name)`;
}
