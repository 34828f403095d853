import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import { dataKeysOf, parseLabelConfig, validateResult, type FakeAnnotation, type FakePrediction, type FakeProject, type FakeTask } from "./labelstudio-state.ts";

export type { FakeAnnotation, FakePrediction, FakeProject, FakeTask } from "./labelstudio-state.ts";

/**
 * A wire-level fake of Label Studio (Community edition) on node:http, checking what Label Studio
 * checks, each behaviour with its source:
 *
 * - auth: `Authorization: Token <key>` (DRF TokenAuthentication, label_studio/jwt_auth/auth.py;
 *   labelstud.io/guide/access_tokens); none or another → 401 `{"detail": …}`;
 * - projects: POST /api/projects/ validates `label_config` (400 on a config that does not parse),
 *   GET /api/projects/{id}/ returns `label_config` and `parsed_label_config`
 *   (projects/serializers.py), GET /api/projects/?title= is DRF-paged `{count, next, previous, results}`;
 * - import: POST /api/projects/{id}/import takes a list of `{data, meta}` (or bare data dicts);
 *   every `$variable` of the config must be a data key, else 400 "Validation error"
 *   (data_import/api.py ImportAPI); synchronous 201 `{task_count, …, task_ids}` with
 *   `return_task_ids=true`;
 * - tasks: GET /api/tasks/ needs `project` (404 "Neither project nor view id specified"), pages by
 *   `page`/`page_size` (a page past the last is 404 "Invalid page."), answers `{total,
 *   total_annotations, total_predictions, tasks}`, includes annotations only with `fields=all`, and
 *   applies the Data-Manager `query` (filters `filter:tasks:updated_at` greater and
 *   `filter:tasks:data.<key>` equal; ordering `tasks:id`) (data_manager/api.py TaskListAPI);
 * - annotations: saving one bumps its task's `updated_at` (tasks/models.py update_task);
 *   `is_labeled` once `maximum_annotations` non-cancelled annotations exist;
 * - predictions: POST /api/predictions/ `{task, result, model_version, score}`, the result
 *   validated against the config (LabelInterface.validate_prediction; 400 on an invalid brush),
 *   `score` a number or null (a DRF FloatField), `model_version` a string; GET /api/predictions/
 *   `?task=`/`?project=` lists them (a plain list, label_studio_sdk predictions `list`);
 * - GCS storages: GET /api/storages/gcs/?project= is a plain list (io_storages/gcs/api.py).
 *
 * The page size is capped (default 100, TASK_API_PAGE_SIZE_MAX) so clients must follow pages.
 */

export interface FakeLabelStudioOptions {
  apiKey?: string;
  pageSizeMax?: number;
  now?: () => Date;
}

export interface FailureRule {
  /** A substring of "METHOD /path", or a predicate. */
  match: string | ((req: { method: string; path: string }) => boolean);
  status: number;
  times: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Answer after doing the work (a lost response: the client cannot tell it was done). */
  afterWork?: boolean;
}

export interface FakeLabelStudio {
  url: string;
  apiKey: string;
  projects: Map<number, FakeProject>;
  tasks: Map<number, FakeTask>;
  predictions: FakePrediction[];
  gcsStorages: { id: number; project: number; bucket: string; prefix: string; title: string }[];
  counters: { requests: number; authFailures: number; imports: number; importedTasks: number; taskPages: number };
  /** Every request, as "METHOD /path?query". */
  log: string[];
  env(extra?: Record<string, string>): Record<string, string>;
  createProject(title: string, labelConfig: string): FakeProject;
  /** An annotator submits (or, with `annotationId`, updates) an annotation: bumps the task's `updated_at`. */
  annotate(taskId: number, result: unknown[], options?: { annotator?: string; cancelled?: boolean; annotationId?: number }): FakeAnnotation;
  /** Annotates every task without a non-cancelled annotation for which `fn` returns a result. */
  annotateAll(fn: (task: FakeTask) => unknown[] | null, options?: { annotator?: string }): number;
  fail(rule: FailureRule): void;
  tasksOf(projectId: number): FakeTask[];
  close(): Promise<void>;
}

export async function startFakeLabelStudio(options: FakeLabelStudioOptions = {}): Promise<FakeLabelStudio> {
  const apiKey = options.apiKey ?? `ls-${randomUUID().replace(/-/g, "")}`;
  const pageSizeMax = options.pageSizeMax ?? 100;
  const now = options.now ?? (() => new Date());
  const projects = new Map<number, FakeProject>();
  const tasks = new Map<number, FakeTask>();
  const annotations = new Map<number, FakeAnnotation>();
  const predictions: FakePrediction[] = [];
  const gcsStorages: FakeLabelStudio["gcsStorages"] = [];
  const counters = { requests: 0, authFailures: 0, imports: 0, importedTasks: 0, taskPages: 0 };
  const log: string[] = [];
  const failures: FailureRule[] = [];
  const users = new Map<string, number>();
  let nextId = 1;
  let lastMicros = 0;

  /** DRF's ISO format with microseconds, strictly increasing (auto_now fields). */
  const stamp = () => {
    lastMicros = Math.max(now().getTime() * 1000, lastMicros + 1);
    const ms = Math.floor(lastMicros / 1000);
    return `${new Date(ms).toISOString().slice(0, 19)}.${String(lastMicros % 1_000_000).padStart(6, "0")}Z`;
  };
  const userId = (name: string) => users.get(name) ?? (users.set(name, users.size + 1), users.size);
  const isLabeled = (t: FakeTask) => t.annotations.filter((a) => !a.was_cancelled).length >= (projects.get(t.project)?.maximum_annotations ?? 1);
  const taskJson = (t: FakeTask, all: boolean) => ({
    id: t.id, project: t.project, data: t.data, meta: t.meta, created_at: t.created_at, updated_at: t.updated_at, is_labeled: isLabeled(t),
    total_annotations: t.annotations.filter((a) => !a.was_cancelled).length, cancelled_annotations: t.annotations.filter((a) => a.was_cancelled).length,
    total_predictions: predictions.filter((p) => p.task === t.id).length,
    ...(all ? { annotations: t.annotations, predictions: predictions.filter((p) => p.task === t.id), drafts: [] } : {}),
  });
  const projectJson = (p: FakeProject) => ({ id: p.id, title: p.title, label_config: p.label_config, parsed_label_config: parseLabelConfig(p.label_config) ?? {}, maximum_annotations: p.maximum_annotations, task_number: [...tasks.values()].filter((t) => t.project === p.id).length });

  type Reply = { status: number; body?: unknown; headers?: Record<string, string> };
  const validation = (errors: Record<string, unknown>): Reply => ({ status: 400, body: { id: randomUUID(), status_code: 400, detail: "Validation error", validation_errors: errors } });
  const notFound = (detail = "Not found."): Reply => ({ status: 404, body: { detail } });

  function createProject(title: string, labelConfig: string): FakeProject {
    const project = { id: nextId++, title, label_config: labelConfig, maximum_annotations: 1 };
    projects.set(project.id, project);
    return project;
  }

  function route(method: string, path: string, query: URLSearchParams, body: unknown): Reply {
    let m: RegExpExecArray | null;
    if (method === "GET" && path === "/api/projects/") {
      const title = query.get("title");
      const all = [...projects.values()].filter((p) => title === null || p.title.toLowerCase().includes(title.toLowerCase()));
      return paged(all.map(projectJson), query);
    }
    if (method === "POST" && path === "/api/projects/") {
      const b = body as { title?: unknown; label_config?: unknown };
      if (typeof b?.label_config !== "string" || !parseLabelConfig(b.label_config)) return validation({ label_config: ["Can't parse the labeling config"] });
      return { status: 201, body: projectJson(createProject(typeof b.title === "string" ? b.title : "New Project", b.label_config)) };
    }
    if ((m = /^\/api\/projects\/(\d+)\/$/.exec(path)) && method === "GET") {
      const p = projects.get(Number(m[1]));
      return p ? { status: 200, body: projectJson(p) } : notFound();
    }
    if ((m = /^\/api\/projects\/(\d+)\/import$/.exec(path)) && method === "POST") {
      const p = projects.get(Number(m[1]));
      if (!p) return notFound();
      const list = Array.isArray(body) ? body : [body];
      const keys = dataKeysOf(p.label_config);
      const made: FakeTask[] = [];
      for (const [i, raw] of list.entries()) {
        if (!raw || typeof raw !== "object") return validation({ non_field_errors: [`Task ${i}: not a dict`] });
        const r = raw as { data?: unknown; meta?: unknown };
        const data = (r.data && typeof r.data === "object" ? r.data : raw) as Record<string, unknown>;
        const missing = keys.filter((k) => !(k in data));
        if (missing.length > 0) return validation({ non_field_errors: [`Task ${i}: "${missing.join('", "')}" key is expected in task data [assume: item["data"]["${missing[0]}"] = …]`] });
        const at = stamp();
        made.push({ id: 0, project: p.id, data, meta: (r.meta && typeof r.meta === "object" ? r.meta : {}) as Record<string, unknown>, created_at: at, updated_at: at, annotations: [] });
      }
      for (const t of made) {
        t.id = nextId++;
        tasks.set(t.id, t);
      }
      counters.imports++;
      counters.importedTasks += made.length;
      const ids = made.map((t) => t.id);
      return { status: 201, body: { task_count: made.length, annotation_count: 0, prediction_count: 0, duration: 0.01, file_upload_ids: [], could_be_tasks_list: false, found_formats: [], data_columns: [], ...(query.get("return_task_ids") === "true" ? { task_ids: ids } : {}) } };
    }
    if (method === "GET" && path === "/api/tasks/") {
      const project = query.get("project");
      if (!project) return notFound("Neither project nor view id specified");
      counters.taskPages++;
      let list = [...tasks.values()].filter((t) => t.project === Number(project));
      const q = query.get("query");
      if (q) {
        let parsed: { filters?: { items?: { filter: string; operator: string; value: unknown }[] }; ordering?: string[] };
        try {
          parsed = JSON.parse(q) as typeof parsed;
        } catch {
          return { status: 400, body: { detail: "query is not JSON" } };
        }
        for (const f of parsed.filters?.items ?? []) {
          if (f.filter === "filter:tasks:updated_at" && f.operator === "greater") list = list.filter((t) => Date.parse(t.updated_at) > Date.parse(String(f.value)));
          const data = /^filter:tasks:data\.(.+)$/.exec(f.filter);
          if (data && f.operator === "equal") list = list.filter((t) => t.data[data[1]!] === f.value);
        }
        if (parsed.ordering?.[0] === "-tasks:id") list.reverse();
      }
      const all = query.get("fields") === "all";
      const page = paged(list.map((t) => taskJson(t, all)), query);
      if (page.status !== 200) return page;
      const { count, results } = page.body as { count: number; results: unknown[] };
      return { status: 200, body: { total: count, total_annotations: list.reduce((n, t) => n + t.annotations.length, 0), total_predictions: 0, tasks: results } };
    }
    if ((m = /^\/api\/tasks\/(\d+)\/$/.exec(path)) && method === "GET") {
      const t = tasks.get(Number(m[1]));
      return t ? { status: 200, body: taskJson(t, true) } : notFound();
    }
    if ((m = /^\/api\/annotations\/(\d+)\/$/.exec(path)) && method === "GET") {
      const a = annotations.get(Number(m[1]));
      return a ? { status: 200, body: a } : notFound();
    }
    if (method === "GET" && path === "/api/predictions/") {
      // PredictionAPI list (predictions/raw_client.py `list`: task / project filters, a plain list).
      const task = query.get("task");
      const project = query.get("project");
      return { status: 200, body: predictions.filter((p) => (task === null || String(p.task) === task) && (project === null || String(p.project) === project)) };
    }
    if (method === "POST" && path === "/api/predictions/") {
      const b = body as { task?: unknown; result?: unknown; model_version?: unknown; score?: unknown };
      const t = typeof b?.task === "number" ? tasks.get(b.task) : undefined;
      if (!t) return validation({ task: [`Invalid pk "${String(b?.task)}" - object does not exist.`] });
      // Prediction.score is a FloatField (null allowed): DRF refuses anything that is not a number.
      if (b.score !== undefined && b.score !== null && (typeof b.score !== "number" || !Number.isFinite(b.score))) return validation({ score: ["A valid number is required."] });
      if (b.model_version !== undefined && typeof b.model_version !== "string") return validation({ model_version: ["Not a valid string."] });
      const problems = validateResult(b.result, parseLabelConfig(projects.get(t.project)!.label_config) ?? {});
      if (problems.length > 0) return validation({ result: problems });
      const prediction = { id: nextId++, task: t.id, project: t.project, result: b.result as unknown[], model_version: typeof b.model_version === "string" ? b.model_version : "undefined", score: typeof b.score === "number" ? b.score : null };
      predictions.push(prediction);
      return { status: 201, body: prediction };
    }
    if (method === "GET" && path === "/api/storages/gcs/") {
      return { status: 200, body: gcsStorages.filter((s) => String(s.project) === query.get("project")).map((s) => ({ ...s, type: "gcs", presign: true, presign_ttl: 1, status: "initialized" })) };
    }
    return notFound();
  }

  /** DRF PageNumberPagination: `{count, next, previous, results}`, 404 "Invalid page." past the end. */
  function paged(all: unknown[], query: URLSearchParams): Reply {
    const page = Number(query.get("page") ?? "1");
    const size = Math.min(Number(query.get("page_size") ?? "100"), pageSizeMax);
    if (!Number.isInteger(page) || page < 1 || !Number.isInteger(size) || size < 1) return notFound("Invalid page.");
    if (page > 1 && (page - 1) * size >= all.length) return notFound("Invalid page.");
    return { status: 200, body: { count: all.length, next: page * size < all.length ? `?page=${page + 1}` : null, previous: page > 1 ? `?page=${page - 1}` : null, results: all.slice((page - 1) * size, page * size) } };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const method = req.method ?? "GET";
    const url = new URL(req.url ?? "/", "http://fake.invalid");
    counters.requests++;
    log.push(`${method} ${url.pathname}${url.search}`);
    const send = (r: Reply) => {
      res.writeHead(r.status, { ...(r.body === undefined ? {} : { "content-type": "application/json" }), ...r.headers });
      res.end(r.body === undefined ? undefined : JSON.stringify(r.body));
    };
    const auth = req.headers.authorization;
    if (!auth) {
      counters.authFailures++;
      return send({ status: 401, body: { detail: "Authentication credentials were not provided." } });
    }
    if (auth !== `Token ${apiKey}`) {
      counters.authFailures++;
      return send({ status: 401, body: { detail: "Invalid token." } });
    }
    const rule = failures.find((f) => (typeof f.match === "string" ? `${method} ${url.pathname}`.includes(f.match) : f.match({ method, path: url.pathname })));
    if (rule && --rule.times <= 0) failures.splice(failures.indexOf(rule), 1);
    if (rule && !rule.afterWork) return send({ status: rule.status, body: rule.body ?? { detail: `injected ${rule.status}` }, ...(rule.headers ? { headers: rule.headers } : {}) });
    let body: unknown;
    if (chunks.length > 0) {
      if (!String(req.headers["content-type"]).startsWith("application/json")) return send({ status: 415, body: { detail: "Unsupported media type" } });
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
      } catch {
        return send({ status: 400, body: { detail: "JSON parse error" } });
      }
    }
    const reply = route(method, url.pathname, url.searchParams, body);
    if (rule) return send({ status: rule.status, body: rule.body ?? { detail: `injected ${rule.status}` } });
    return send(reply);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ detail: `fake crashed: ${(e as Error).message}` })));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  function annotate(taskId: number, result: unknown[], o: { annotator?: string; cancelled?: boolean; annotationId?: number } = {}): FakeAnnotation {
    const t = tasks.get(taskId);
    if (!t) throw new Error(`no task ${taskId}`);
    const at = stamp();
    const annotator = o.annotator ?? "annotator@team";
    let a = o.annotationId === undefined ? undefined : annotations.get(o.annotationId);
    if (a) {
      a.result = result;
      a.updated_at = at;
    } else {
      a = { id: nextId++, task: t.id, project: t.project, result, was_cancelled: o.cancelled ?? false, ground_truth: false, completed_by: userId(annotator), created_username: annotator, created_at: at, updated_at: at };
      annotations.set(a.id, a);
      t.annotations.push(a);
    }
    t.updated_at = at;
    return a;
  }

  return {
    url,
    apiKey,
    projects,
    tasks,
    predictions,
    gcsStorages,
    counters,
    log,
    env: (extra = {}) => ({ ANNOTATION_BACKEND: "labelstudio", LABEL_STUDIO_URL: url, LABEL_STUDIO_API_KEY: apiKey, ...extra }),
    createProject,
    annotate,
    annotateAll(fn, o = {}) {
      let n = 0;
      for (const t of [...tasks.values()]) {
        if (t.annotations.some((a) => !a.was_cancelled)) continue;
        const result = fn(t);
        if (!result) continue;
        annotate(t.id, result, o);
        n++;
      }
      return n;
    },
    fail: (rule) => failures.push({ ...rule }),
    tasksOf: (projectId) => [...tasks.values()].filter((t) => t.project === projectId),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
