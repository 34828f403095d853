import { randomUUID } from "node:crypto";
import {
  type FakeEncordState, type FakeFolder, type FakeItem, type FakeUnitError, type FakeUploadJob, v2Timestamp,
} from "./encord-state.ts";

/**
 * v2 REST endpoints of the fake Encord (docs/encord.md §4, §5): camelCase JSON, paging by
 * `pageToken`, booleans in query strings as `True`/`False`, errors as HTTP statuses with
 * `{"message": …}`.
 */

export interface V2Context {
  state: FakeEncordState;
  now: Date;
  method: string;
  /** Segments after `/v2/public/`. */
  segments: string[];
  query: URLSearchParams;
  body: unknown;
}

export interface FakeResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

const notFound = (what: string): FakeResponse => ({ status: 404, body: { message: `${what} not found` } });
const badRequest = (message: string): FakeResponse => ({ status: 400, body: { message } });

/**
 * Storage listings: `pageSize` 1–1000, default 100 (ListFoldersParams/ListItemsParams and the
 * checks in encord/storage.py), `{results, nextPageToken}` until the token is null
 * (encord/http/v2/payloads.py `Page`, api_client.py `get_paged_iterator`). The token is opaque to
 * clients; here it is an offset.
 */
function page<T>(all: T[], query: URLSearchParams): FakeResponse {
  const size = Number(query.get("pageSize") ?? "100");
  if (!Number.isInteger(size) || size < 1 || size > 1000) return badRequest("pageSize must be between 1 and 1000");
  const start = Number(query.get("pageToken") ?? "0");
  const results = all.slice(start, start + size);
  const next = start + size < all.length ? String(start + size) : null;
  return { status: 200, body: { results, nextPageToken: next } };
}

function folderDto(f: FakeFolder): Record<string, unknown> {
  return {
    uuid: f.uuid, parent: f.parent, name: f.name, description: f.description, clientMetadata: f.clientMetadata,
    owner: "owner@example.com", createdAt: f.createdAt, lastEditedAt: f.createdAt, userRole: "admin",
    syncedDatasetHash: null, pathToRoot: [],
  };
}

function itemDto(i: FakeItem): Record<string, unknown> {
  return {
    uuid: i.uuid, parent: i.folderUuid, itemType: i.itemType, name: i.name, description: "",
    clientMetadata: i.clientMetadata, owner: "owner@example.com", createdAt: i.createdAt, lastEditedAt: i.createdAt,
    isTombstone: false, isPlaceholder: false, backedDataUnitsCount: 1, storageLocation: "gcp",
    integrationHash: i.integrationHash, url: i.url, fileSize: null, mimeType: i.itemType === "image" ? "image/png" : null,
  };
}

function matchesSearch(state: FakeEncordState, name: string, search: string | null): boolean {
  if (!search) return true;
  return state.searchMode === "substring" && name.toLowerCase().includes(search.toLowerCase());
}

export function handleV2(ctx: V2Context): FakeResponse {
  const { state, method, segments: s, query } = ctx;
  const route = `${method} ${s.map((seg, i) => (i > 0 && isId(s[i - 1]!, seg) ? ":id" : seg)).join("/")}`;
  switch (route) {
    case "GET cloud-integrations": {
      const uuids = query.getAll("filterIntegrationUuids");
      const titles = query.getAll("filterIntegrationTitles");
      const result = state.integrations
        .filter((i) => (uuids.length === 0 || uuids.includes(i.uuid)) && (titles.length === 0 || titles.includes(i.title)))
        .map((i) => ({ integrationUuid: i.uuid, title: i.title }));
      return { status: 200, body: { result } };
    }
    case "GET storage/folders":
      return page([...state.folders.values()].filter((f) => f.parent === null && matchesSearch(state, f.name, query.get("search"))).map(folderDto), query);
    case "POST storage/folders":
      return createFolder(ctx);
    case "GET storage/folders/:id": {
      const folder = state.folders.get(s[2]!);
      return folder ? { status: 200, body: folderDto(folder) } : notFound("folder");
    }
    case "GET storage/folders/:id/items": {
      if (!state.folders.has(s[2]!)) return notFound("folder");
      const items = [...state.items.values()].filter((i) => i.folderUuid === s[2] && matchesSearch(state, i.name, query.get("search")));
      return page(items.map(itemDto), query);
    }
    case "POST storage/folders/:id/data-upload-jobs":
      return startUploadJob(ctx, s[2]!);
    case "GET storage/folders/:id/data-upload-jobs/:id":
      return pollUploadJob(ctx, s[2]!, s[4]!);
    case "GET projects/:id":
      return getProject(ctx, s[1]!);
    case "GET projects/:id/workflow/stages/:id/tasks":
      return listStageTasks(ctx, s[1]!, s[4]!);
    case "GET projects/:id/datasets": {
      if (s[1] !== state.projectHash) return notFound("project");
      const results = [...state.projectDatasets].map((hash) => ({ datasetHash: hash, title: state.datasets.get(hash) ?? "", description: "" }));
      return { status: 200, body: { results, nextPageToken: null } };
    }
    case "POST projects/:id/priorities":
      return setPriorities(ctx, s[1]!);
    default:
      return { status: 404, body: { detail: `no route ${method} /v2/public/${s.join("/")} in the fake` } };
  }
}

/** Segment `seg` is an id when it follows a collection name. */
function isId(previous: string, _seg: string): boolean {
  return ["folders", "data-upload-jobs", "projects", "items", "stages"].includes(previous);
}

function createFolder(ctx: V2Context): FakeResponse {
  const body = ctx.body as { name?: unknown; description?: unknown; parent?: unknown; clientMetadata?: unknown } | null;
  if (!body || typeof body.name !== "string" || body.name === "") return badRequest("name is required");
  if (body.clientMetadata !== undefined && typeof body.clientMetadata !== "string") return badRequest("clientMetadata must be a JSON string");
  const folder: FakeFolder = {
    uuid: randomUUID(), name: body.name, description: typeof body.description === "string" ? body.description : "",
    parent: typeof body.parent === "string" ? body.parent : null, clientMetadata: (body.clientMetadata as string | undefined) ?? "{}",
    createdAt: v2Timestamp(ctx.now),
  };
  // Encord allows several folders with one name; the client must look before it creates.
  ctx.state.folders.set(folder.uuid, folder);
  ctx.state.counters.foldersCreated++;
  return { status: 200, body: folderDto(folder) };
}

interface Unit {
  kind: "image" | "imageGroup";
  title: string | undefined;
  urls: string[];
  clientMetadata: unknown;
}

/** Validates the structured `dataItems` form (docs/encord.md §5.2) into units, or says what is wrong. */
function readUnits(dataItems: Record<string, unknown>): Unit[] | string {
  const units: Unit[] = [];
  for (const image of (dataItems.images as unknown[] | undefined) ?? []) {
    const i = image as Record<string, unknown>;
    if (typeof i.objectUrl !== "string") return "images[].objectUrl is required";
    if (i.externalFileType !== "IMAGE") return 'images[].externalFileType must be "IMAGE"';
    units.push({ kind: "image", title: typeof i.title === "string" ? i.title : undefined, urls: [i.objectUrl], clientMetadata: i.clientMetadata ?? {} });
  }
  for (const group of (dataItems.imageGroups as unknown[] | undefined) ?? []) {
    const g = group as Record<string, unknown>;
    if (g.externalFileType !== "IMG_GROUP") return 'imageGroups[].externalFileType must be "IMG_GROUP"';
    if (typeof g.createVideo !== "boolean") return "imageGroups[].createVideo must be a boolean";
    const images = g.images as { url?: unknown }[] | undefined;
    if (!Array.isArray(images) || images.length === 0 || images.some((im) => typeof im.url !== "string")) return "imageGroups[].images[].url is required";
    units.push({ kind: "imageGroup", title: typeof g.title === "string" ? g.title : undefined, urls: images.map((im) => im.url as string), clientMetadata: g.clientMetadata ?? {} });
  }
  for (const key of ["videos", "dicomSeries", "audio", "nifti", "text", "pdf", "imageGroupsFromItems"]) {
    if (dataItems[key] !== undefined) return `the fake does not support dataItems.${key}`;
  }
  return units;
}

function startUploadJob(ctx: V2Context, folderUuid: string): FakeResponse {
  const { state } = ctx;
  if (!state.folders.has(folderUuid)) return notFound("folder");
  const body = ctx.body as Record<string, unknown> | null;
  if (!body || typeof body.dataItems !== "object" || body.dataItems === null) return badRequest("dataItems is required (the fake supports the structured form only)");
  if (!state.integrations.some((i) => i.uuid === body.integrationHash)) return badRequest("integrationHash does not name an integration");
  if (typeof body.ignoreErrors !== "boolean") return badRequest("ignoreErrors must be a boolean");
  const units = readUnits(body.dataItems as Record<string, unknown>);
  if (typeof units === "string") return badRequest(units);
  const job: FakeUploadJob = { uuid: randomUUID(), folderUuid, status: "PENDING", polls: 0, body, itemsWithNames: [], unitErrors: [], duplicatesSkipped: 0 };
  state.uploadJobs.set(job.uuid, job);
  state.counters.uploadJobsStarted++;
  return { status: 200, body: job.uuid }; // a bare JSON string, as Encord answers
}

/**
 * Runs a job: creates items, records unit errors, and with `skipDuplicateUrls` skips items "with
 * URLs that already exist in the same folder" (DataUploadItems.skip_duplicate_urls docstring,
 * encord/orm/storage.py). With `ignoreErrors` the job ends DONE whatever failed, otherwise ERROR
 * when a unit failed (LongPollingStatus docstring, encord/orm/dataset.py).
 */
export function processUploadJob(state: FakeEncordState, job: FakeUploadJob, now: Date): void {
  if (job.status !== "PENDING") return;
  const dataItems = job.body.dataItems as Record<string, unknown>;
  const units = readUnits(dataItems) as Unit[];
  const skipDuplicates = dataItems.skipDuplicateUrls === true;
  const existingUrls = new Set([...state.items.values()].filter((i) => i.folderUuid === job.folderUuid).flatMap((i) => i.urls));
  for (const unit of units) {
    const broken = unit.urls.map((u) => state.brokenUrls.get(u) ?? (u.startsWith("gs://") ? null : `unsupported URL for a GCP integration: ${u}`)).find((e) => e);
    if (broken) {
      job.unitErrors.push({ objectUrls: unit.urls, error: broken, subtaskUuid: randomUUID(), actionDescription: unit.kind === "image" ? "Upload image" : "Upload image group" } satisfies FakeUnitError);
      continue;
    }
    if (unit.kind === "imageGroup" && !unit.title) {
      job.unitErrors.push({ objectUrls: unit.urls, error: "title is required for cloud integrations", subtaskUuid: randomUUID(), actionDescription: "Upload image group" });
      continue;
    }
    if (skipDuplicates && unit.urls.every((u) => existingUrls.has(u))) {
      job.duplicatesSkipped++;
      state.counters.duplicatesSkipped++;
      continue;
    }
    const item: FakeItem = {
      uuid: randomUUID(), folderUuid: job.folderUuid, name: unit.title ?? unit.urls[0]!.replace(/^gs:\/\/[^/]+\//, ""),
      itemType: unit.kind, url: unit.urls[0]!, urls: unit.urls, clientMetadata: JSON.stringify(unit.clientMetadata),
      integrationHash: job.body.integrationHash as string, uploadJobUuid: job.uuid, createdAt: v2Timestamp(now),
    };
    state.items.set(item.uuid, item);
    state.counters.itemsCreated++;
    for (const u of unit.urls) existingUrls.add(u);
    job.itemsWithNames.push({ itemUuid: item.uuid, name: item.name });
  }
  job.status = job.unitErrors.length > 0 && job.body.ignoreErrors !== true ? "ERROR" : "DONE";
}

function pollUploadJob(ctx: V2Context, folderUuid: string, jobUuid: string): FakeResponse {
  const job = ctx.state.uploadJobs.get(jobUuid);
  if (!job || job.folderUuid !== folderUuid) return notFound("upload job");
  const timeout = ctx.query.get("timeoutSeconds");
  if (timeout !== null && !/^\d+$/.test(timeout)) return badRequest("timeoutSeconds must be an integer");
  // PENDING for the first poll(s), then done: a client that does not loop on PENDING is caught.
  // The real server holds this GET up to `timeoutSeconds` (a long poll); the fake answers at once.
  job.polls++;
  if (!ctx.state.holdUploadJobs && job.polls > ctx.state.uploadJobPendingPolls) processUploadJob(ctx.state, job, ctx.now);
  const done = job.status !== "PENDING";
  return {
    status: 200,
    body: {
      status: job.status,
      itemsWithNames: done ? job.itemsWithNames : [],
      errors: job.unitErrors.map((e) => e.error),
      unitsPendingCount: done ? 0 : 1,
      unitsDoneCount: job.itemsWithNames.length,
      unitsErrorCount: job.unitErrors.length,
      unitsCancelledCount: 0,
      unitErrors: job.unitErrors,
      fileName: null,
    },
  };
}

/**
 * A stage's tasks, token-paged (encord/workflow/common.py `get_tasks` → `Page`). DONE-stage tasks
 * carry uuid, createdAt, updatedAt, dataHash and dataTitle (FinalStageTask, encord/workflow/stages/
 * final.py); `dataHashes` filters as `_FinalTasksQueryParams` does. Tasks come in the order they
 * entered the stage; the token is an offset, so a task entering meanwhile may shift a page — as a
 * client of an opaque token must expect.
 */
function listStageTasks(ctx: V2Context, projectHash: string, stageUuid: string): FakeResponse {
  const { state } = ctx;
  if (projectHash !== state.projectHash) return notFound("project");
  const stage = state.stages.find((st) => st.uuid === stageUuid);
  if (!stage) return notFound("stage");
  const token = ctx.query.get("pageToken");
  if (token !== null && !/^\d+$/.test(token)) return badRequest("invalid page token");
  const filter = ctx.query.getAll("dataHashes");
  const titles = new Map([...state.dataRows.values()].map((d) => [d.dataHash, d.title]));
  const tasks = [...state.labelRows.values()]
    .filter((row) => row.stageTitle === stage.title && (filter.length === 0 || filter.includes(row.dataHash)))
    .sort((a, b) => a.stageSeq - b.stageSeq)
    .map((row) => ({ uuid: row.taskUuid, createdAt: row.stageEnteredAt, updatedAt: row.stageEnteredAt, dataHash: row.dataHash, dataTitle: titles.get(row.dataHash) ?? "" }));
  const start = Number(token ?? "0");
  const results = tasks.slice(start, start + state.taskPageSize);
  return { status: 200, body: { results, nextPageToken: start + state.taskPageSize < tasks.length ? String(start + state.taskPageSize) : null } };
}

function getProject(ctx: V2Context, projectHash: string): FakeResponse {
  const { state } = ctx;
  if (projectHash !== state.projectHash) return notFound("project");
  return {
    status: 200,
    body: {
      projectHash: state.projectHash, projectType: "workflow", status: "inProgress", title: state.projectTitle, description: "",
      createdAt: "2024-01-01T00:00:00+00:00", lastEditedAt: "2024-01-01T00:00:00+00:00", ontologyHash: "0b3c5a0e-7c1e-4a8f-9d70-2f0f3e0c0001",
      editorOntology: state.editorOntology, userRole: 0, workflowManagerUuid: "0b3c5a0e-7c1e-4a8f-9d70-2f0f3e0c0002",
      workflow: { stages: state.stages.map((st) => ({ stageType: st.stageType, uuid: st.uuid, title: st.title })) },
    },
  };
}

/**
 * Task priorities (docs/encord.md §9.5, `workflow_set_priority`): `{priorities: [[dataHash, p], …]}`,
 * p a float in 0–1; workflow projects only. Idempotent: the last value wins.
 */
function setPriorities(ctx: V2Context, projectHash: string): FakeResponse {
  if (projectHash !== ctx.state.projectHash) return notFound("project");
  const pairs = (ctx.body as { priorities?: unknown } | null)?.priorities;
  if (!Array.isArray(pairs) || pairs.some((p) => !Array.isArray(p) || typeof p[0] !== "string" || typeof p[1] !== "number" || p[1] < 0 || p[1] > 1)) {
    return { status: 422, body: { detail: "priorities must be a list of [data hash, 0–1]" } };
  }
  for (const [hash, p] of pairs as [string, number][]) ctx.state.priorities.set(hash, p);
  return { status: 200, body: null };
}
