import { randomUUID } from "node:crypto";
import { encordTimestamp, longTimestamp, type FakeEncordState, type FakeLabelRow, syncLabelRows } from "./encord-state.ts";

/**
 * v1 "query" endpoints of the fake Encord (docs/encord.md §1, §4, §6.3, §7.1): everything is a
 * POST to `/public`, the logical method is in the body, results and errors come back in a
 * 200 body `{"status": …, "response": …, "payload": …}` with snake_case keys.
 */

export interface V1Context {
  state: FakeEncordState;
  now: Date;
  resourceType: string;
  resourceId: string;
  queryType: string;
  queryMethod: string;
  uid: unknown;
  payload: Record<string, unknown> | null;
}

export type V1Result = { ok: true; response: unknown } | { ok: false; status: number; code: string; payload: unknown };

const err = (status: number, code: string, payload: unknown): V1Result => ({ ok: false, status, code, payload });
const ok = (response: unknown): V1Result => ({ ok: true, response });

export function handleV1(ctx: V1Context): V1Result {
  const route = `${ctx.queryType} ${ctx.queryMethod}`;
  switch (route) {
    case "labelrowmetadata GET":
      return projectScoped(ctx) ?? listLabelRowMetadata(ctx);
    case "labelrow GET":
      return projectScoped(ctx) ?? getLabelRows(ctx);
    case "labelrow PUT":
      return projectScoped(ctx) ?? createLabelRows(ctx);
    case "labelrow POST":
      return projectScoped(ctx) ?? saveLabelRows(ctx);
    case "projectdataset POST":
      return projectScoped(ctx) ?? addDatasets(ctx);
    case "datasetlinkitems POST":
      return linkItems(ctx);
    case "datarows GET":
      return listDataRows(ctx);
    default:
      return err(400, "INVALID_ARGUMENTS_ERROR", `the fake does not implement ${route}`);
  }
}

function projectScoped(ctx: V1Context): V1Result | null {
  if (ctx.resourceType !== "project") return err(400, "INVALID_ARGUMENTS_ERROR", "ResourceType must be project");
  if (ctx.resourceId !== ctx.state.projectHash) return err(404, "RESOURCE_NOT_FOUND_ERROR", "Project not found or not accessible");
  return null;
}

/** Parses Python-isoformat / ISO strings; naive timestamps are UTC. Returns microseconds since epoch. */
function micros(text: string): number {
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})?$/.exec(text);
  if (!m) throw new Error(`invalid date: ${text}`);
  const base = Date.parse(`${m[1]}T${m[2]}${m[4] ?? "Z"}`);
  return base * 1000 + Number((m[3] ?? "").padEnd(6, "0"));
}

function metadataRow(state: FakeEncordState, row: FakeLabelRow, includeClientMetadata: boolean): Record<string, unknown> {
  const dataRow = [...state.dataRows.values()].find((d) => d.dataHash === row.dataHash)!;
  const item = state.items.get(dataRow.itemUuid);
  const stage = state.stages.find((s) => s.title === row.stageTitle);
  return {
    label_hash: row.labelHash, data_hash: row.dataHash, dataset_hash: row.datasetHash,
    dataset_title: state.datasets.get(row.datasetHash) ?? "", data_title: dataRow.title, data_type: dataRow.dataType,
    data_link: null, branch_name: "main", number_of_frames: item?.urls.length ?? 1,
    label_status: row.labelHash ? "LABELLED" : "NOT_LABELLED", annotation_task_status: row.labelHash ? "COMPLETED" : "QUEUED",
    created_at: row.createdAt, last_edited_at: row.lastEditedAt, is_shadow_data: false,
    workflow_graph_node: stage ? { uuid: stage.uuid, title: stage.title } : null,
    backing_item_uuid: dataRow.itemUuid, last_actioned_by_user_email: row.annotator, spaces: {},
    ...(includeClientMetadata ? { client_metadata: item ? (JSON.parse(item.clientMetadata) as unknown) : null } : {}),
  };
}

/**
 * `labelrowmetadata` (encord/client.py `list_label_rows`): every matching row in one answer (the
 * SDK sends no paging), filtered by stage title, data hashes and edit time. `edited_after` keeps
 * rows "last edited after" the time (encord/project.py docstring) — strictly after, to the
 * microsecond, as the words say; clients must not depend on it either way. `last_edited_at`
 * changes only when the label is saved, never when the task moves between stages (see
 * `enterStage`). Rows without a label come only with `include_uninitialised_labels`.
 */
function listLabelRowMetadata(ctx: V1Context): V1Result {
  const p = ctx.payload ?? {};
  const stage = p.workflow_graph_node_title_eq;
  let after: number | null = null;
  let before: number | null = null;
  try {
    if (typeof p.edited_after === "string") after = micros(p.edited_after);
    if (typeof p.edited_before === "string") before = micros(p.edited_before);
  } catch (e) {
    return err(400, "INVALID_DATE_FORMAT_ERROR", (e as Error).message);
  }
  const dataHashes = Array.isArray(p.data_hashes) ? new Set(p.data_hashes) : null;
  const rows = [...ctx.state.labelRows.values()].filter((row) => {
    if (row.labelHash === null && p.include_uninitialised_labels !== true) return false;
    if (typeof stage === "string" && row.stageTitle !== stage) return false;
    if (dataHashes && !dataHashes.has(row.dataHash)) return false;
    if (after !== null && (row.lastEditedAt === null || micros(row.lastEditedAt) <= after)) return false;
    if (before !== null && (row.lastEditedAt === null || micros(row.lastEditedAt) >= before)) return false;
    return true;
  });
  return ok(rows.map((row) => metadataRow(ctx.state, row, p.include_client_metadata === true)));
}

function getLabelRows(ctx: V1Context): V1Result {
  const p = ctx.payload ?? {};
  const { state } = ctx;
  const uids = Array.isArray(ctx.uid) ? ctx.uid : [ctx.uid];
  if (p.multi_request === true && !Array.isArray(ctx.uid)) return err(400, "INVALID_ARGUMENTS_ERROR", "multi_request needs a list uid");
  const limit = state.labelRowLimit;
  if (limit && uids.length > limit.max) {
    state.counters.multiLabelLimitErrors++;
    return err(400, "MULTI_LABEL_LIMIT_ERROR", limit.advertise ? { maximum_labels_allowed: limit.max } : null);
  }
  state.counters.labelRowFetches++;
  const byLabel = new Map([...state.labelRows.values()].filter((r) => r.labelHash).map((r) => [r.labelHash!, r]));
  const found: unknown[] = [];
  for (const uid of uids) {
    const row = typeof uid === "string" ? byLabel.get(uid) : undefined;
    if (!row?.content) {
      if (p.multi_request !== true) return err(404, "RESOURCE_NOT_FOUND_ERROR", `label row ${String(uid)} not found`);
      continue;
    }
    found.push(row.content);
  }
  return ok(p.multi_request === true ? found : found[0]);
}

function addDatasets(ctx: V1Context): V1Result {
  const hashes = ctx.payload?.dataset_hashes;
  ctx.state.counters.projectDatasetCalls++;
  if (!Array.isArray(hashes) || hashes.some((h) => typeof h !== "string")) return err(400, "INVALID_ARGUMENTS_ERROR", "dataset_hashes must be a list");
  for (const hash of hashes as string[]) {
    if (!ctx.state.datasets.has(hash)) return err(404, "RESOURCE_NOT_FOUND_ERROR", `dataset ${hash} not found`);
    if (ctx.state.projectDatasets.has(hash)) return err(409, "RESOURCE_EXISTS_ERROR", "Dataset is already attached to the project");
  }
  for (const hash of hashes as string[]) ctx.state.projectDatasets.add(hash);
  syncLabelRows(ctx.state);
  return ok(true);
}

/** `datarows` GET (encord/client.py `list_data_rows`): a dataset's rows, filtered by exact title. */
function listDataRows(ctx: V1Context): V1Result {
  if (ctx.resourceType !== "dataset") return err(400, "INVALID_ARGUMENTS_ERROR", "ResourceType must be dataset");
  if (!ctx.state.datasets.has(ctx.resourceId)) return err(404, "RESOURCE_NOT_FOUND_ERROR", "Dataset not found or not accessible");
  const titleEq = ctx.payload?.title_eq;
  const rows = [...ctx.state.dataRows.values()].filter((r) => r.datasetHash === ctx.resourceId && (typeof titleEq !== "string" || r.title === titleEq));
  return ok(rows.map((r) => ({ data_hash: r.dataHash, data_title: r.title, data_type: r.dataType, created_at: r.createdAt, backing_item_uuid: r.itemUuid })));
}

function linkItems(ctx: V1Context): V1Result {
  const { state } = ctx;
  if (ctx.resourceType !== "dataset") return err(400, "INVALID_ARGUMENTS_ERROR", "ResourceType must be dataset");
  if (ctx.resourceId !== ctx.uid || !state.datasets.has(ctx.resourceId)) return err(404, "RESOURCE_NOT_FOUND_ERROR", "Dataset not found or not accessible");
  const p = ctx.payload ?? {};
  const itemUuids = p.item_uuids;
  if (!Array.isArray(itemUuids) || itemUuids.some((u) => typeof u !== "string")) return err(400, "INVALID_ARGUMENTS_ERROR", "item_uuids must be a list");
  const behaviour = p.duplicates_behavior ?? "SKIP";
  if (!["SKIP", "DUPLICATE", "FAIL"].includes(behaviour as string)) return err(400, "INVALID_ARGUMENTS_ERROR", "duplicates_behavior");
  state.counters.linkCalls++;
  const created: unknown[] = [];
  for (const uuid of itemUuids as string[]) {
    const item = state.items.get(uuid);
    if (!item) return err(404, "RESOURCE_NOT_FOUND_ERROR", `storage item ${uuid} not found`);
    const key = `${ctx.resourceId}/${uuid}`;
    if (state.dataRows.has(key)) {
      if (behaviour === "FAIL") return err(409, "RESOURCE_EXISTS_ERROR", `item ${uuid} is already in the dataset`);
      if (behaviour === "SKIP") continue;
    }
    const row = {
      dataHash: randomUUID(), datasetHash: ctx.resourceId, itemUuid: uuid, title: item.name,
      dataType: item.itemType === "image" ? ("IMAGE" as const) : ("IMG_GROUP" as const), createdAt: item.createdAt,
    };
    state.dataRows.set(behaviour === "DUPLICATE" && state.dataRows.has(key) ? `${key}#${row.dataHash}` : key, row);
    created.push({ data_hash: row.dataHash, data_title: row.title, data_type: row.dataType, backing_item_uuid: uuid, created_at: row.createdAt });
  }
  syncLabelRows(state);
  return ok(created);
}

/**
 * `labelrow` PUT (docs/encord.md §9.1, `EncordClientProject.create_label_rows`): uid = data hashes;
 * each row without a label gets its `label_hash` and an empty label (one data unit per image,
 * sized as the image) and is answered in full; a row that has one is answered as it is.
 */
function createLabelRows(ctx: V1Context): V1Result {
  const { state } = ctx;
  if (!Array.isArray(ctx.uid) || ctx.uid.some((u) => typeof u !== "string")) return err(400, "INVALID_ARGUMENTS_ERROR", "uid must be a list of data hashes");
  const out: unknown[] = [];
  for (const dataHash of ctx.uid as string[]) {
    const row = state.labelRows.get(dataHash);
    if (!row) return err(404, "RESOURCE_NOT_FOUND_ERROR", `data ${dataHash} is not in the project`);
    if (!row.labelHash || !row.content) {
      const dataRow = [...state.dataRows.values()].find((d) => d.dataHash === dataHash)!;
      const item = state.items.get(dataRow.itemUuid)!;
      const labelHash = row.labelHash ?? randomUUID();
      const at = encordTimestamp(ctx.now);
      const units: Record<string, unknown> = {};
      item.urls.forEach((url, index) => {
        const size = state.imageSizes.get(url);
        const unitHash = item.urls.length === 1 ? dataHash : `${dataHash}-${index}`;
        units[unitHash] = {
          data_hash: unitHash, data_title: url.split("/").pop(), data_link: url, data_type: "image/png",
          data_sequence: dataRow.dataType === "IMG_GROUP" ? String(index) : 0, width: size?.width ?? 0, height: size?.height ?? 0,
          labels: { objects: [], classifications: [] },
        };
      });
      row.labelHash = labelHash;
      row.createdAt ??= at;
      row.content = {
        label_hash: labelHash, branch_name: "main", data_hash: dataHash, dataset_hash: row.datasetHash, dataset_title: state.datasets.get(row.datasetHash) ?? "",
        data_title: dataRow.title, data_type: dataRow.dataType === "IMG_GROUP" ? "img_group" : "image", created_at: longTimestamp(at), last_edited_at: longTimestamp(at),
        // "If the label is not in progress, this sets the label status to LABEL_IN_PROGRESS" (initialise_labels docstring).
        label_status: "LABEL_IN_PROGRESS", annotation_task_status: "QUEUED", is_shadow_data: false,
        object_answers: {}, classification_answers: {}, object_actions: {}, data_units: units, spaces: {},
      };
    }
    out.push(row.content);
  }
  return ok(out);
}

/**
 * `labelrow` POST (docs/encord.md §9.2, `save_label_rows`): `labels[i]` overwrites the row `uid[i]`
 * whole. Bitmasks must cover their unit (W×H of the frame: the SDK's `to_encord_dict` refuses
 * others, docs/encord.md §9.3), name a bitmask object of the ontology, and have an `object_answers` entry.
 */
function saveLabelRows(ctx: V1Context): V1Result {
  const { state } = ctx;
  const labels = ctx.payload?.labels;
  if (ctx.payload?.multi_request !== true || !Array.isArray(ctx.uid) || !Array.isArray(labels) || labels.length !== ctx.uid.length) {
    return err(400, "INVALID_ARGUMENTS_ERROR", "labelrow POST needs multi_request, a uid list and one label per uid");
  }
  const byLabel = new Map([...state.labelRows.values()].filter((r) => r.labelHash).map((r) => [r.labelHash!, r]));
  const bitmaskFeatures = new Set(((state.editorOntology as { objects?: { featureNodeHash?: string; shape?: string }[] }).objects ?? []).filter((o) => o.shape === "bitmask").map((o) => o.featureNodeHash));
  const rows: FakeLabelRow[] = [];
  for (const [i, uid] of (ctx.uid as unknown[]).entries()) {
    const row = typeof uid === "string" ? byLabel.get(uid) : undefined;
    if (!row) return err(404, "RESOURCE_NOT_FOUND_ERROR", `label row ${String(uid)} not found`);
    const label = labels[i] as { label_hash?: unknown; data_units?: Record<string, { width?: number; height?: number; labels?: { objects?: Record<string, unknown>[] } }>; object_answers?: Record<string, unknown> };
    if (label.label_hash !== uid) return err(400, "INVALID_ARGUMENTS_ERROR", `labels[${i}].label_hash does not match uid[${i}]`);
    for (const unit of Object.values(label.data_units ?? {})) {
      for (const o of unit.labels?.objects ?? []) {
        const bitmask = o.bitmask as { width?: number; height?: number; rleString?: unknown } | undefined;
        if (o.shape !== "bitmask") continue;
        if (!bitmask || bitmask.width !== unit.width || bitmask.height !== unit.height || typeof bitmask.rleString !== "string") {
          return err(400, "INVALID_ARGUMENTS_ERROR", "Bitmask dimensions don't match the media dimensions");
        }
        if (!bitmaskFeatures.has(o.featureHash as string)) return err(400, "INVALID_ARGUMENTS_ERROR", `featureHash ${String(o.featureHash)} is not a bitmask object of the ontology`);
        if (!label.object_answers?.[o.objectHash as string]) return err(400, "INVALID_ARGUMENTS_ERROR", `object ${String(o.objectHash)} has no object_answers entry`);
      }
    }
    rows.push(row);
  }
  const at = encordTimestamp(ctx.now);
  rows.forEach((row, i) => {
    row.content = { ...(labels[i] as Record<string, unknown>), last_edited_at: longTimestamp(at) };
    row.lastEditedAt = at;
  });
  return ok(null);
}
