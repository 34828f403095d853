import * as z from "zod";
import { TransientError } from "../../errors.ts";
import { EncordApiError } from "./errors.ts";
import type { EncordTransport, QueryParams } from "./http.ts";
import {
  CloudIntegrationsSchema, LabelRowMetadataSchema, LabelRowSchema, ProjectDatasetSchema, ProjectSchema, StorageFolderSchema,
  StorageItemSchema, UploadJobIdSchema, UploadJobStateSchema, WorkflowTaskSchema, pageOf, type LabelRowMetadata, type Project, type StorageFolder,
  type StorageItem, type UploadJobState, type WorkflowTask,
} from "./schemas.ts";

/**
 * Typed Encord calls (docs/encord.md §4 Calls). Each response is validated with zod; a response that
 * does not have the documented shape is a TransientError (a proxy page, a half-deployed server),
 * never a crash deeper in.
 */

export interface CloudIntegration {
  uuid: string;
  title: string;
}

/** Structured `dataItems` of an upload job (camelCase wire keys, docs/encord.md §5.2 Upload jobs). */
export interface DataUploadItems {
  images?: {
    objectUrl: string;
    title: string;
    clientMetadata: Record<string, unknown>;
    externalFileType: "IMAGE";
  }[];
  imageGroups?: {
    title: string;
    images: { url: string; title?: string }[];
    clientMetadata: Record<string, unknown>;
    createVideo: false;
    externalFileType: "IMG_GROUP";
    clusterByResolution: false;
  }[];
  skipDuplicateUrls: boolean;
}

/** `labelrowmetadata` filters (docs/encord.md §6.3); unset keys are sent as null, as the SDK does. */
export interface LabelRowFilters {
  editedAfter?: string | null;
  editedBefore?: string | null;
  stageTitle?: string | null;
  dataHashes?: string[] | null;
  includeUninitialised?: boolean;
  includeClientMetadata?: boolean;
}

const PAGE_SIZE = 1000;
/** Long-poll window per request: the dataset route caps at 60 s, a safe choice for both (docs/encord.md §5.3). */
export const UPLOAD_POLL_SECONDS = 60;

function parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new TransientError(`Encord ${what}: unexpected response shape (${issue ? `${issue.path.join(".") || "<root>"}: ${issue.message}` : "invalid"})`);
  }
  return result.data;
}

export class EncordApi {
  constructor(private readonly http: EncordTransport) {}

  async listCloudIntegrations(): Promise<CloudIntegration[]> {
    const body = await this.http.v2({ method: "GET", path: "cloud-integrations" });
    return parse(CloudIntegrationsSchema, body, "cloud-integrations").result.map((i) => ({ uuid: i.integrationUuid, title: i.title }));
  }

  /** Top-level folders, those matching `search` when given (all pages). */
  async listFolders(search: string | null): Promise<StorageFolder[]> {
    return this.paged("storage/folders", { search, pageSize: PAGE_SIZE }, StorageFolderSchema, "list folders");
  }

  /** Never retried: a lost answer could mean the folder exists. Callers list first. */
  async createFolder(name: string, description: string): Promise<StorageFolder> {
    const body = await this.http.v2({ method: "POST", path: "storage/folders", body: { name, description, clientMetadata: JSON.stringify({ createdBy: "mlops-loop" }) }, retryable: false });
    return parse(StorageFolderSchema, body, "create folder");
  }

  /** Items of a folder, optionally those whose name contains `search` (all pages). */
  async listFolderItems(folderUuid: string, search?: string): Promise<StorageItem[]> {
    return this.paged(`storage/folders/${encodeURIComponent(folderUuid)}/items`, { search: search ?? null, pageSize: PAGE_SIZE, signUrls: false }, StorageItemSchema, "list folder items");
  }

  /** Starts an upload job and returns its id. Never retried blindly (see the backend's pre-lookup). */
  async startUploadJob(folderUuid: string, request: { dataItems: DataUploadItems; integrationHash: string; ignoreErrors: boolean }): Promise<string> {
    const body = await this.http.v2({ method: "POST", path: `storage/folders/${encodeURIComponent(folderUuid)}/data-upload-jobs`, body: request, retryable: false });
    return parse(UploadJobIdSchema, body, "start upload job");
  }

  async getUploadJob(folderUuid: string, jobUuid: string): Promise<UploadJobState> {
    const body = await this.http.v2({
      method: "GET",
      path: `storage/folders/${encodeURIComponent(folderUuid)}/data-upload-jobs/${encodeURIComponent(jobUuid)}`,
      query: { timeoutSeconds: UPLOAD_POLL_SECONDS },
      // The server may hold the request for the whole long-poll window.
      timeoutMs: (UPLOAD_POLL_SECONDS + 30) * 1000,
    });
    return parse(UploadJobStateSchema, body, "upload job status");
  }

  async getProject(projectHash: string): Promise<Project> {
    const body = await this.http.v2({ method: "GET", path: `projects/${encodeURIComponent(projectHash)}` });
    return parse(ProjectSchema, body, "project");
  }

  async listProjectDatasetHashes(projectHash: string): Promise<string[]> {
    const rows = await this.paged(`projects/${encodeURIComponent(projectHash)}/datasets`, {}, ProjectDatasetSchema, "project datasets");
    return rows.map((r) => r.datasetHash);
  }

  /**
   * One page of a workflow stage's tasks (`encord/workflow/common.py` get_tasks: token-paged, no
   * page-size parameter, so the server picks the size). `pageToken` null starts at the beginning.
   */
  async listStageTasksPage(projectHash: string, stageUuid: string, pageToken: string | null): Promise<{ tasks: WorkflowTask[]; nextPageToken: string | null }> {
    const body = await this.http.v2({ method: "GET", path: `projects/${encodeURIComponent(projectHash)}/workflow/stages/${encodeURIComponent(stageUuid)}/tasks`, query: { pageToken } });
    const page = parse(pageOf(WorkflowTaskSchema), body, "stage tasks");
    return { tasks: page.results, nextPageToken: page.nextPageToken ?? null };
  }

  async listLabelRowMetadata(projectHash: string, filters: LabelRowFilters): Promise<LabelRowMetadata[]> {
    const response = await this.http.v1({
      resourceType: "project", resourceId: projectHash, queryType: "labelrowmetadata", method: "GET", uid: null, retryable: true,
      payload: {
        edited_before: filters.editedBefore ?? null,
        edited_after: filters.editedAfter ?? null,
        label_statuses: null,
        shadow_data_state: null,
        data_hashes: filters.dataHashes ?? null,
        label_hashes: null,
        data_title_eq: null,
        data_title_like: null,
        workflow_graph_node_title_eq: filters.stageTitle ?? null,
        workflow_graph_node_title_like: null,
        include_uninitialised_labels: filters.includeUninitialised ?? false,
        include_workflow_graph_node: true,
        include_client_metadata: filters.includeClientMetadata ?? false,
        include_images_data: false,
        include_all_label_branches: false,
        branch_name: null,
      },
    });
    return parse(LabelRowMetadataSchema.array(), response ?? [], "labelrowmetadata");
  }

  /** One multi GET; MULTI_LABEL_LIMIT_ERROR propagates as an EncordApiError for the caller to shrink. */
  async getLabelRows(projectHash: string, labelHashes: readonly string[]): Promise<Record<string, unknown>[]> {
    const response = await this.http.v1({
      resourceType: "project", resourceId: projectHash, queryType: "labelrow", method: "GET", uid: [...labelHashes], retryable: true,
      payload: {
        get_signed_url: false,
        multi_request: true,
        include_object_feature_hashes: null,
        include_classification_feature_hashes: null,
        include_reviews: false,
        include_export_history: false,
        include_archived: false,
      },
    });
    return parse(LabelRowSchema.array(), response ?? [], "labelrow") as Record<string, unknown>[];
  }
  /**
   * Creates label rows for data that has none yet (docs/encord.md §9.1: v1 `labelrow` PUT, uid = data
   * hashes, `multi_request`): answers the new rows with their `label_hash`. Not idempotent, so not
   * retried; a caller that lost the answer re-lists with `labelrowmetadata` first.
   */
  async createLabelRows(projectHash: string, dataHashes: readonly string[]): Promise<Record<string, unknown>[]> {
    const response = await this.http.v1({
      resourceType: "project", resourceId: projectHash, queryType: "labelrow", method: "PUT", uid: [...dataHashes], retryable: false,
      payload: { multi_request: true, get_signed_url: false, branch_name: null },
    });
    return parse(LabelRowSchema.array(), response ?? [], "labelrow create") as Record<string, unknown>[];
  }

  /**
   * Saves whole label rows (docs/encord.md §9.2: v1 `labelrow` POST, `labels[i]` belongs to `uid[i]`;
   * a full overwrite of each row, sent retryable as the SDK sends it).
   */
  async saveLabelRows(projectHash: string, rows: readonly { labelHash: string; row: Record<string, unknown> }[]): Promise<void> {
    await this.http.v1({
      resourceType: "project", resourceId: projectHash, queryType: "labelrow", method: "POST", uid: rows.map((r) => r.labelHash), retryable: true,
      payload: { multi_request: true, labels: rows.map((r) => r.row), validate_before_saving: false },
    });
  }

  /** Workflow task priorities, 0–1 (docs/encord.md §9.5: v2 POST `projects/{p}/priorities`, keyed by data hash). */
  async setPriorities(projectHash: string, priorities: readonly [dataHash: string, priority: number][]): Promise<void> {
    await this.http.v2({ method: "POST", path: `projects/${encodeURIComponent(projectHash)}/priorities`, body: { priorities }, retryable: true });
  }


  /** Data rows of a dataset with this exact title (encord/client.py `list_data_rows`); proves the key may read the dataset. */
  async listDataRowsTitled(datasetHash: string, title: string): Promise<unknown[]> {
    const response = await this.http.v1({
      resourceType: "dataset", resourceId: datasetHash, queryType: "datarows", method: "GET", uid: null, retryable: true,
      payload: {
        title_eq: title, title_like: null, created_before: null, created_after: null, data_types: null,
        dataset_access_settings: { fetch_client_metadata: false }, data_hashes: null,
      },
    });
    return parse(z.array(z.unknown()), response ?? [], "datarows");
  }

  /** The first page of a folder's items (a cheap proof of access). */
  async folderItemsPage(folderUuid: string, pageSize: number): Promise<StorageItem[]> {
    const body = await this.http.v2({ method: "GET", path: `storage/folders/${encodeURIComponent(folderUuid)}/items`, query: { pageSize, signUrls: false } });
    return parse(pageOf(StorageItemSchema), body, "list folder items").results;
  }

  /** Links storage items to a dataset; items already linked are skipped (idempotent, so retried). */
  async linkItemsToDataset(datasetHash: string, itemUuids: readonly string[]): Promise<void> {
    await this.http.v1({
      resourceType: "dataset", resourceId: datasetHash, queryType: "datasetlinkitems", method: "POST", uid: datasetHash, retryable: true,
      payload: { item_uuids: [...itemUuids], duplicates_behavior: "SKIP" },
    });
  }

  /** Attaches a dataset to the project; "already attached" counts as success. */
  async addDatasetToProject(projectHash: string, datasetHash: string): Promise<void> {
    try {
      await this.http.v1({
        resourceType: "project", resourceId: projectHash, queryType: "projectdataset", method: "POST", uid: null, retryable: true,
        payload: { dataset_hashes: [datasetHash] },
      });
    } catch (err) {
      if (err instanceof EncordApiError && (err.encordCode === "RESOURCE_EXISTS_ERROR" || /already/i.test(String(err.payload ?? "")))) return;
      throw err;
    }
  }

  private async paged<T extends z.ZodType>(path: string, query: QueryParams, item: T, what: string): Promise<z.infer<T>[]> {
    const out: z.infer<T>[] = [];
    let pageToken: string | null = null;
    for (let pages = 0; pages < 10_000; pages++) {
      const body = await this.http.v2({ method: "GET", path, query: { ...query, pageToken } });
      const page = parse(pageOf(item), body, what);
      out.push(...(page.results as z.infer<T>[]));
      pageToken = page.nextPageToken ?? null;
      if (!pageToken) return out;
    }
    throw new TransientError(`Encord ${what}: paging did not end`);
  }
}
