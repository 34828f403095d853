import * as z from "zod";
import { TransientError } from "../../errors.ts";
import { ParsedLabelConfigSchema } from "../../core/annotation/labelstudio-config.ts";
import type { LabelStudioTransport } from "./http.ts";

/**
 * Typed Label Studio calls. Paths, parameters and response shapes follow the API reference
 * (api.labelstud.io) and the official SDK generated from the server's OpenAPI schema
 * (HumanSignal/label-studio-sdk, src/label_studio_sdk/<resource>/raw_client.py). Responses are validated;
 * one without the documented shape is a TransientError (a proxy page, a half-deployed server).
 */

export const LsProjectSchema = z.looseObject({
  id: z.number().int(),
  title: z.string().nullable().optional(),
  label_config: z.string().optional(),
  parsed_label_config: ParsedLabelConfigSchema.optional().catch(undefined),
});
export type LsProject = z.infer<typeof LsProjectSchema>;

const ProjectPageSchema = z.looseObject({ count: z.number().int(), results: z.array(LsProjectSchema) });

/** `completed_by` is a user id in task listings, a user object in some other views. */
const UserRefSchema = z.union([z.number(), z.looseObject({ id: z.number().optional(), email: z.string().optional() })]).nullable().optional();

export const LsAnnotationSchema = z.looseObject({
  id: z.number().int(),
  task: z.number().int().optional(),
  result: z.array(z.unknown()).default([]),
  was_cancelled: z.boolean().default(false),
  ground_truth: z.boolean().optional(),
  completed_by: UserRefSchema,
  created_username: z.string().optional(),
  created_at: z.string().optional(),
  updated_at: z.string(),
});
export type LsAnnotation = z.infer<typeof LsAnnotationSchema>;

export const LsTaskSchema = z.looseObject({
  id: z.number().int(),
  data: z.record(z.string(), z.unknown()),
  is_labeled: z.boolean().optional(),
  updated_at: z.string().optional(),
  annotations: z.array(LsAnnotationSchema).optional(),
});
export type LsTask = z.infer<typeof LsTaskSchema>;

const TaskPageSchema = z.looseObject({ total: z.number().int(), tasks: z.array(LsTaskSchema) });

/** Community answers `{task_count, task_ids, …}`; Enterprise and Starter Cloud `{import: id}` (asynchronous). */
const ImportResultSchema = z.looseObject({
  task_count: z.number().int().optional(),
  task_ids: z.array(z.number().int()).optional(),
  import: z.number().int().optional(),
});
export type LsImportResult = z.infer<typeof ImportResultSchema>;

const GcsStorageSchema = z.looseObject({ id: z.number().int(), bucket: z.string().nullable().optional(), prefix: z.string().nullable().optional(), title: z.string().nullable().optional() });

/** A task to import: `data` holds the `$variables` of the labeling config and our own keys. */
export interface LsTaskImport {
  data: Record<string, unknown>;
  meta?: Record<string, unknown>;
}

/** Data-Manager task filter (the `query` parameter of GET /api/tasks/, api.labelstud.io "List tasks"). */
export interface TaskQuery {
  filters?: { conjunction: "and" | "or"; items: { filter: string; operator: string; type: string; value: unknown }[] };
  ordering?: string[];
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new TransientError(`Label Studio ${what}: unexpected response shape (${parsed.error.issues.slice(0, 3).map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")})`);
  return parsed.data;
}

export class LabelStudioApi {
  constructor(readonly transport: LabelStudioTransport) {}

  async getProject(id: number): Promise<LsProject> {
    return parse(LsProjectSchema, await this.transport.request({ method: "GET", path: `projects/${id}/` }), "project");
  }

  /** Projects whose title matches (`title` filter; the exact match is checked by the caller). */
  async findProjects(title: string): Promise<LsProject[]> {
    const out: LsProject[] = [];
    for (let page = 1; ; page++) {
      const body = parse(ProjectPageSchema, await this.transport.request({ method: "GET", path: "projects/", query: { title, page, page_size: 100 } }), "project list");
      out.push(...body.results);
      if (body.results.length === 0 || page * body.results.length >= body.count) return out;
    }
  }

  /** Not idempotent: callers look with `findProjects` first. */
  async createProject(title: string, labelConfig: string, description: string): Promise<LsProject> {
    const body = await this.transport.request({ method: "POST", path: "projects/", body: { title, label_config: labelConfig, description }, retryable: false });
    return parse(LsProjectSchema, body, "project create");
  }

  /** POST /api/projects/{id}/import?return_task_ids=true: never re-sent (it would duplicate tasks). */
  async importTasks(projectId: number, tasks: readonly LsTaskImport[]): Promise<LsImportResult> {
    const body = await this.transport.request({ method: "POST", path: `projects/${projectId}/import`, query: { return_task_ids: true }, body: tasks, retryable: false });
    return parse(ImportResultSchema, body, "import");
  }

  /** One page of GET /api/tasks/ (1-based `page`). */
  async listTasks(projectId: number, page: number, pageSize: number, options: { all?: boolean; query?: TaskQuery } = {}): Promise<{ total: number; tasks: LsTask[] }> {
    const body = await this.transport.request({
      method: "GET",
      path: "tasks/",
      query: { project: projectId, page, page_size: pageSize, fields: options.all ? "all" : undefined, query: options.query ? JSON.stringify(options.query) : undefined },
    });
    return parse(TaskPageSchema, body, "task list");
  }

  /**
   * One page and whether it is the last. The server may cap `page_size` (TASK_API_PAGE_SIZE_MAX),
   * so the end is judged from what came back, never from the size asked for: a page of `n` tasks
   * ends the listing when `page × n ≥ total` (n is at most the server's page size, so this never
   * ends early), and a page past the end (404 "Invalid page.", as DRF pagination answers) ends it
   * after a short last page.
   */
  async taskPage(projectId: number, page: number, pageSize: number, options: { all?: boolean; query?: TaskQuery } = {}): Promise<{ total: number; tasks: LsTask[]; last: boolean }> {
    try {
      const { total, tasks } = await this.listTasks(projectId, page, pageSize, options);
      return { total, tasks, last: tasks.length === 0 || page * tasks.length >= total };
    } catch (err) {
      if (page > 1 && (err as { httpStatus?: number }).httpStatus === 404) return { total: 0, tasks: [], last: true };
      throw err;
    }
  }

  async getTask(id: number): Promise<LsTask> {
    return parse(LsTaskSchema, await this.transport.request({ method: "GET", path: `tasks/${id}/` }), "task");
  }

  async getAnnotation(id: number): Promise<LsAnnotation> {
    return parse(LsAnnotationSchema, await this.transport.request({ method: "GET", path: `annotations/${id}/` }), "annotation");
  }

  /** POST /api/predictions/: one prediction (a pre-label) on a task. */
  async createPrediction(prediction: { task: number; result: unknown[]; model_version: string; score?: number }): Promise<{ id: number }> {
    const body = await this.transport.request({ method: "POST", path: "predictions/", body: prediction, retryable: false });
    return parse(z.looseObject({ id: z.number().int() }), body, "prediction create");
  }

  /**
   * GET /api/predictions/?task=ID: the task's predictions, a plain list (label_studio_sdk
   * predictions/raw_client.py `list` types it `List[Prediction]`; docs/labelstudio.md "Pre-labels").
   */
  async listPredictions(task: number): Promise<{ id: number; model_version: string | null }[]> {
    const body = await this.transport.request({ method: "GET", path: "predictions/", query: { task } });
    return parse(z.array(z.looseObject({ id: z.number().int(), model_version: z.string().nullable().optional().transform((v) => v ?? null) })), body, "prediction list");
  }

  /** GCS source storages of the project (a plain array). */
  async listGcsStorages(projectId: number): Promise<z.infer<typeof GcsStorageSchema>[]> {
    return parse(z.array(GcsStorageSchema), await this.transport.request({ method: "GET", path: "storages/gcs/", query: { project: projectId } }), "GCS storage list");
  }
}
