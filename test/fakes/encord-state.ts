import { randomUUID } from "node:crypto";

/**
 * In-memory state of the fake Encord server: storage folders and items, upload jobs, datasets and
 * their data rows, the project with its workflow stages, and one label row per data row. Field
 * names mirror the wire shapes in docs/encord.md so handlers stay thin.
 */

export interface FakeIntegration {
  uuid: string;
  title: string;
}

export interface FakeStage {
  stageType: "ANNOTATION" | "REVIEW" | "DONE" | "AGENT";
  uuid: string;
  title: string;
}

export interface FakeFolder {
  uuid: string;
  name: string;
  description: string;
  parent: string | null;
  clientMetadata: string;
  createdAt: string;
}

export interface FakeItem {
  uuid: string;
  folderUuid: string;
  name: string;
  itemType: "image" | "imageGroup";
  /** The object URL (first image for a group). */
  url: string;
  /** Every object URL the item was registered from, in order (RGB then NIR for our groups). */
  urls: string[];
  /** JSON text, as Encord stores it. */
  clientMetadata: string;
  integrationHash: string;
  uploadJobUuid: string;
  createdAt: string;
}

export interface FakeUnitError {
  objectUrls: string[];
  error: string;
  subtaskUuid: string;
  actionDescription: string;
}

export interface FakeUploadJob {
  uuid: string;
  folderUuid: string;
  status: "PENDING" | "DONE" | "ERROR" | "CANCELLED";
  polls: number;
  body: Record<string, unknown>;
  itemsWithNames: { itemUuid: string; name: string }[];
  unitErrors: FakeUnitError[];
  duplicatesSkipped: number;
}

export interface FakeDataRow {
  dataHash: string;
  datasetHash: string;
  itemUuid: string;
  title: string;
  dataType: "IMAGE" | "IMG_GROUP";
  createdAt: string;
}

export interface FakeLabelRow {
  dataHash: string;
  datasetHash: string;
  /** Null until a label is saved (Encord's "uninitialised" rows). */
  labelHash: string | null;
  stageTitle: string;
  /** The row's workflow task; `stageEnteredAt` is when it entered its current stage (the task's `updatedAt`). */
  taskUuid: string;
  stageEnteredAt: string;
  /** Order of entering stages, across rows (timestamps can tie). */
  stageSeq: number;
  createdAt: string | null;
  /** ISO without zone, microseconds: the way labelrowmetadata reports it. */
  lastEditedAt: string | null;
  annotator: string | null;
  /** The full label-row JSON `labelrow` GET returns. */
  content: Record<string, unknown> | null;
}

export interface FakeCounters {
  requests: number;
  authFailures: number;
  foldersCreated: number;
  uploadJobsStarted: number;
  itemsCreated: number;
  duplicatesSkipped: number;
  linkCalls: number;
  projectDatasetCalls: number;
  labelRowFetches: number;
  multiLabelLimitErrors: number;
}

export interface FakeRequestRecord {
  method: string;
  path: string;
  /** v1 only. */
  queryType?: string;
  queryMethod?: string;
  /** v1 only: the body's `values.uid` / `values.payload`. */
  uid?: unknown;
  payload?: unknown;
  /** v2 only: the parsed JSON body, and the query string (without `?`). */
  body?: unknown;
  query?: string;
  status: number;
  /** v1 errors travel in a 200 body; this is the body's code when there was one. */
  errorCode?: string;
}

export interface FakeEncordState {
  publicKeyHex: string;
  integrations: FakeIntegration[];
  projectHash: string;
  projectTitle: string;
  datasetHash: string;
  stages: FakeStage[];
  editorOntology: unknown;
  folders: Map<string, FakeFolder>;
  items: Map<string, FakeItem>;
  uploadJobs: Map<string, FakeUploadJob>;
  /** datasetHash → title */
  datasets: Map<string, string>;
  /** itemUuid → data row, per dataset (`${datasetHash}/${itemUuid}`). */
  dataRows: Map<string, FakeDataRow>;
  projectDatasets: Set<string>;
  /** dataHash → label row */
  labelRows: Map<string, FakeLabelRow>;
  /** URLs whose registration fails with this unit error (simulates a missing object). */
  brokenUrls: Map<string, string>;
  /** Most label rows one `labelrow` multi GET may ask for; `advertise` adds `maximum_labels_allowed`. */
  labelRowLimit: { max: number; advertise: boolean } | null;
  /** How `search` matches names: Encord does not document it, so tests can make it find nothing. */
  searchMode: "substring" | "never";
  /**
   * How long an upload job runs: it answers PENDING to this many status polls, then finishes;
   * `holdUploadJobs` keeps every job PENDING until `settleUploadJobs`. Encord promises no
   * duration: PENDING means "will start soon or already started processing" (LongPollingStatus,
   * encord/orm/dataset.py) and the SDK's waiter allows a job up to 7 days
   * (encord/storage.py `_add_data_to_folder_get_result`).
   */
  uploadJobPendingPolls: number;
  holdUploadJobs: boolean;
  /**
   * Tasks per page of a stage's task listing. The SDK sends no page size (`TasksQueryParams` has
   * only `page_token`, encord/workflow/common.py), so the server picks one; tests make it small.
   */
  taskPageSize: number;
  stageSeq: number;
  counters: FakeCounters;
  requests: FakeRequestRecord[];
  /**
   * Pixel size of each registered object URL. Encord reads it from the image; the fake cannot, so
   * tests that create label rows (`labelrow` PUT) say it here.
   */
  imageSizes: Map<string, { width: number; height: number }>;
  /** Workflow task priorities set by `POST projects/{p}/priorities`, by data hash. */
  priorities: Map<string, number>;
}

/** Encord-style timestamps: ISO without a zone, microsecond precision (treated as UTC). */
export function encordTimestamp(date: Date, micros = 0): string {
  const iso = date.toISOString(); // 2024-01-02T03:04:05.678Z
  const us = String(date.getUTCMilliseconds() * 1000 + (micros % 1000)).padStart(6, "0");
  return `${iso.slice(0, 19)}.${us}`;
}

/** The long form label rows use (docs/encord.md §8): `Thu, 09 Feb 2023 14:12:03 UTC`, whole seconds. */
export function longTimestamp(zonelessIso: string): string {
  return new Date(`${zonelessIso.slice(0, 19)}Z`).toUTCString().replace("GMT", "UTC");
}

/** Seconds-precision ISO with an offset, as v2 DTOs serialise datetimes. */
export function v2Timestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "+00:00");
}

export function newState(init: {
  publicKeyHex: string;
  integrations: FakeIntegration[];
  projectHash: string;
  projectTitle: string;
  datasetHash: string;
  datasetTitle: string;
  stages: FakeStage[];
  editorOntology: unknown;
}): FakeEncordState {
  return {
    ...init,
    folders: new Map(),
    items: new Map(),
    uploadJobs: new Map(),
    datasets: new Map([[init.datasetHash, init.datasetTitle]]),
    dataRows: new Map(),
    projectDatasets: new Set(),
    labelRows: new Map(),
    brokenUrls: new Map(),
    imageSizes: new Map(),
    priorities: new Map(),
    labelRowLimit: null,
    searchMode: "substring",
    uploadJobPendingPolls: 1,
    holdUploadJobs: false,
    taskPageSize: 100,
    stageSeq: 0,
    counters: {
      requests: 0, authFailures: 0, foldersCreated: 0, uploadJobsStarted: 0, itemsCreated: 0, duplicatesSkipped: 0,
      linkCalls: 0, projectDatasetCalls: 0, labelRowFetches: 0, multiLabelLimitErrors: 0,
    },
    requests: [],
  };
}

export const DEFAULT_STAGES = (): FakeStage[] => [
  { stageType: "ANNOTATION", uuid: randomUUID(), title: "Annotate 1" },
  { stageType: "REVIEW", uuid: randomUUID(), title: "Review 1" },
  { stageType: "DONE", uuid: randomUUID(), title: "Complete" },
  { stageType: "DONE", uuid: randomUUID(), title: "Archive" },
];

/**
 * An editor ontology with one object per class name (index 0, the background, has none: nobody
 * draws background). Feature hashes are short opaque strings, as in Encord.
 */
export function fakeEditorOntology(classNames: readonly string[], shape: "bitmask" | "bounding_box" | "polygon" = "bitmask"): unknown {
  return {
    objects: classNames.slice(1).map((name, i) => ({
      id: String(i + 1),
      name,
      color: "#D33115",
      shape,
      featureNodeHash: `f${String(i + 1).padStart(3, "0")}+/Ab`,
      required: false,
      archived: false,
      attributes: [],
    })),
    classifications: [],
  };
}

/**
 * The seed project's editor ontology: five bitmask objects, in the order the seed lists them.
 * The feature hashes are made up (short opaque strings, as in Encord); the shapes and names are
 * the seed's. `Fill` is drawn over nodata.
 */
export function seedEditorOntology(): unknown {
  const objects = [["Fill", "#000000"], ["Cloud_Shadow", "#5A4A3A"], ["Clear", "#2E8B57"], ["Thin_Cloud", "#B0C4DE"], ["Cloud", "#FFFFFF"]] as const;
  return {
    objects: objects.map(([name, color], i) => ({
      id: String(i + 1), name, color, shape: "bitmask", featureNodeHash: `sd${String(i + 1).padStart(2, "0")}/Q+x`, required: false, archived: false, attributes: [],
    })),
    classifications: [],
  };
}

/** Every URL registered more than once in a folder: proof of a duplicate registration. */
export function duplicateUrls(state: FakeEncordState): string[] {
  const counts = new Map<string, number>();
  for (const item of state.items.values()) {
    for (const url of item.urls) {
      const key = `${item.folderUuid} ${url}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return [...counts.entries()].filter(([, n]) => n > 1).map(([k]) => k.slice(k.indexOf(" ") + 1));
}

/**
 * Moves a row's task into a stage. The label itself is not touched: `last_edited_at` stays as it
 * was. Moving work along (submit, approve, reopen) is a workflow action that carries no label
 * content (encord/workflow/stages/review.py `approve`, encord/workflow/common.py `_move`), and the
 * label-row metadata has no time of entering a stage (`LabelRowMetadata`, encord/orm/label_row.py).
 * The task's `updatedAt` is the time it entered the stage.
 */
export function enterStage(state: FakeEncordState, row: FakeLabelRow, stageTitle: string, now: Date): void {
  row.stageTitle = stageTitle;
  row.stageEnteredAt = v2Timestamp(now);
  row.stageSeq = ++state.stageSeq;
}

/** Creates label rows for a dataset's data rows once the dataset is in the project. */
export function syncLabelRows(state: FakeEncordState): void {
  const first = state.stages[0]?.title ?? "Annotate 1";
  for (const row of state.dataRows.values()) {
    if (!state.projectDatasets.has(row.datasetHash) || state.labelRows.has(row.dataHash)) continue;
    state.labelRows.set(row.dataHash, {
      dataHash: row.dataHash, datasetHash: row.datasetHash, labelHash: null, stageTitle: first, taskUuid: randomUUID(),
      stageEnteredAt: v2Timestamp(new Date()), stageSeq: ++state.stageSeq, createdAt: null, lastEditedAt: null, annotator: null, content: null,
    });
  }
}
