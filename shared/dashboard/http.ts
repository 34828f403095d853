/**
 * The dashboard's HTTP handler. Plain `node:http` request/response only, so the same function
 * serves the local runtime (`http.createServer(handler)`) and the `dashboard` Cloud Function
 * (`ff.http('dashboard', (req, res) => handler(req, res))`: Express objects are node's underneath).
 *
 *   GET /                        the page
 *   GET /api/status              the snapshot as JSON
 *   GET /api/failures?before=<at>&beforeId=<id>&limit=<n>
 *                                failures older than the cursor, newest first (keyset pages; each
 *                                answer carries the cursor of the next page, or null)
 *   GET /objects/<bucket>/<name> object bytes through `readObject` (only when one is given)
 *   GET /items?state=<state>     item gallery (thumbnails), GET /items/<id> one item,
 *   GET /evaluations/<id>        one evaluation, GET /api/runs/<id> one run as JSON,
 *   GET /runs/<id>               one run (facts, per-epoch curves, parameters, trainer numbers),
 *   GET /runs/compare?a=&b=      two runs side by side (all with `pages`)
 *   GET /queue?after=<cursor>    the annotation queue in priority order, GET /api/queue the same as JSON
 *   GET /healthz                 `ok`
 *   anything `routes` answers    (the model server's `POST /v1/models/{alias}:predict` and `GET /metrics`)
 *
 * HEAD is answered like GET without a body; other methods get 405. Errors become a short 500
 * (the details go to the logger, never to the client).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { EvaluationReportSchema, type EvaluationReport } from "../core/evaluation/report.ts";
import { ITEM_STATES, type ItemState, type StatusSnapshot } from "../core/status/snapshot.ts";
import type * as PageQueryModule from "../db/queries/pages.ts";
import type { EvaluationDetail, GalleryItem, ItemPage, QueueCursor, RunDetail } from "../db/queries/pages.ts";
import { parseQueueCursor, QUEUE_PAGE_SIZE, renderQueuePage, type QueuePage } from "./pages/queue.ts";
import { GALLERY_LIMIT, renderGalleryPage } from "./pages/gallery.ts";
import { renderItemPage } from "./pages/item.ts";
import { renderEvaluationPage } from "./pages/evaluation.ts";
import { renderRunComparisonPage } from "./pages/runs.ts";
import { renderRunPage } from "./pages/run.ts";
import { compareRuns } from "../core/runs/compare.ts";
import { describeError, PermanentError } from "../errors.ts";
import type { Logger, Queryable } from "../ports.ts";
import { DASHBOARD_CSP, OBJECT_CSP } from "./assets.ts";
import { normaliseBasePath, objectPath, parseObjectPath } from "./paths.ts";
import { renderDashboard } from "./render.ts";

type PageQueries = Pick<typeof PageQueryModule, "listGalleryItems" | "readItemPage" | "readRunDetail" | "readEvaluationDetail" | "annotationQueuePage">;

export interface DashboardObject {
  body: Uint8Array;
  contentType?: string;
}

export interface DashboardHandlerOptions {
  getSnapshot: () => Promise<StatusSnapshot>;
  /** One page of failures older than `before` (keyset); without it `/api/failures` is 404. */
  listFailures?: (options: { limit: number; before?: { at: string; id: string } }) => Promise<StatusSnapshot["failures"]>;
  /** Reads an object for `/objects/…`; null when it does not exist. Without it that route is 404. */
  readObject?: (uri: string) => Promise<DashboardObject | null>;
  title?: string;
  /** Prefix the dashboard is reachable under (e.g. `/dashboard`); stripped from requests if present. */
  basePath?: string;
  refreshSeconds?: number;
  /** Overrides object links (e.g. signed URLs). Default: `/objects/…` when `readObject` is given, else none. */
  objectLink?: (uri: string) => string | null;
  logger?: Logger;
  /** The detail pages' reads (shared/db/queries/pages.ts); without them those routes are 404. */
  pages?: DashboardPages;
  /** Routes tried first, with the base path stripped; they return false to leave a request to the dashboard. */
  routes?: (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean>;
}

export interface DashboardPages {
  listItems(options: { state?: ItemState; limit: number }): Promise<GalleryItem[]>;
  readItem(id: string): Promise<ItemPage | null>;
  readRun(id: string): Promise<RunDetail | null>;
  readEvaluation(id: string): Promise<EvaluationDetail | null>;
  /** A keyset page of the annotation queue (absent: `/queue` is 404). */
  readQueue?(options: { limit: number; after: QueueCursor | null }): Promise<QueuePage>;
}

/** The pages' reads bound to a database (the queries module is passed in so this file stays SQL-free). */
export function dashboardPages(db: Queryable, q: PageQueries): DashboardPages {
  return {
    listItems: (o) => q.listGalleryItems(db, o),
    readItem: (id) => q.readItemPage(db, id),
    readRun: (id) => q.readRunDetail(db, id),
    readEvaluation: (id) => q.readEvaluationDetail(db, id),
    readQueue: (o) => q.annotationQueuePage(db, o),
  };
}

export type DashboardHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

const BASE_HEADERS: Record<string, string> = {
  "Cache-Control": "no-store",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
};

/** Content types for the objects the loop writes; anything else is served as opaque bytes. */
const CONTENT_TYPES: Record<string, string> = {
  json: "application/json; charset=utf-8",
  md: "text/markdown; charset=utf-8",
  txt: "text/plain; charset=utf-8",
  log: "text/plain; charset=utf-8",
  csv: "text/csv; charset=utf-8",
  html: "text/html; charset=utf-8",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  tif: "image/tiff",
  tiff: "image/tiff",
  svg: "image/svg+xml",
  zip: "application/zip",
};

export function contentTypeFor(name: string): string {
  const dot = name.lastIndexOf(".");
  const extension = dot === -1 ? "" : name.slice(dot + 1).toLowerCase();
  return CONTENT_TYPES[extension] ?? "application/octet-stream";
}

function send(res: ServerResponse, status: number, contentType: string, body: string | Uint8Array, headers: Record<string, string> = {}): void {
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
  res.writeHead(status, { ...BASE_HEADERS, ...headers, "Content-Type": contentType, "Content-Length": String(bytes.byteLength) });
  res.end(bytes);
}

function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  send(res, status, "text/plain; charset=utf-8", `${text}\n`, headers);
}

/** The request path without the query, still percent-encoded (so `..` checks see what was sent). */
function requestPath(req: IncomingMessage): string | null {
  const url = req.url ?? "/";
  const path = url.split(/[?#]/, 1)[0] ?? "";
  return path.startsWith("/") ? path : null;
}

export function createDashboardHandler(options: DashboardHandlerOptions): DashboardHandler {
  const basePath = normaliseBasePath(options.basePath);
  const { readObject, logger } = options;
  const objectLink = options.objectLink ?? (readObject ? (uri: string) => objectPath(basePath, uri) : () => null);

  async function serveObject(res: ServerResponse, rest: string): Promise<void> {
    if (!readObject) return sendText(res, 404, "not found");
    const parsed = parseObjectPath(rest);
    if (!parsed.ok) return sendText(res, 400, `bad object path: ${parsed.reason}`);
    let object: DashboardObject | null;
    try {
      object = await readObject(parsed.uri);
    } catch (err) {
      // The store refusing a name (or not finding it) is the client's 404, not our 500.
      if (err instanceof PermanentError) return sendText(res, 404, "not found");
      throw err;
    }
    if (!object) return sendText(res, 404, "not found");
    // A hostile upload may be HTML or SVG: the sandbox CSP keeps it inert on our origin.
    send(res, 200, object.contentType ?? contentTypeFor(parsed.uri), object.body, { "Content-Security-Policy": OBJECT_CSP });
  }

  const pageOptions = { basePath, product: options.title?.trim() || "MLOps loop", objectLink };

  /** The id after a route prefix (one path segment, percent-decoded), or null. */
  function idAfter(path: string, prefix: string): string | null {
    const rest = path.slice(prefix.length);
    if (!rest || rest.includes("/")) return null;
    try {
      const id = decodeURIComponent(rest);
      return id.length > 0 && id.length <= 200 ? id : null;
    } catch {
      return null;
    }
  }

  async function readReport(uri: string | null): Promise<EvaluationReport | null> {
    if (!uri || !readObject) return null;
    const object = await readObject(uri).catch((err: unknown) => {
      if (err instanceof PermanentError) return null;
      throw err;
    });
    if (!object) return null;
    try {
      const parsed = EvaluationReportSchema.safeParse(JSON.parse(Buffer.from(object.body).toString("utf8")));
      return parsed.success ? parsed.data : null;
    } catch {
      return null;
    }
  }

  async function servePage(req: IncomingMessage, res: ServerResponse, path: string, pages: DashboardPages): Promise<void> {
    const htmlPage = (page: string) => send(res, 200, "text/html; charset=utf-8", page, { "Content-Security-Policy": DASHBOARD_CSP });
    if (path === "/items") {
      const state = new URL(req.url ?? "/", "http://dashboard").searchParams.get("state");
      if (state !== null && !(ITEM_STATES as readonly string[]).includes(state)) return sendText(res, 400, `state must be one of ${ITEM_STATES.join(", ")}`);
      const [items, snapshot] = await Promise.all([pages.listItems({ ...(state ? { state: state as ItemState } : {}), limit: GALLERY_LIMIT }), options.getSnapshot()]);
      return htmlPage(renderGalleryPage(pageOptions, items, state as ItemState | null, snapshot.itemsByState));
    }
    if ((path === "/queue" || path === "/api/queue") && pages.readQueue) {
      const query = new URL(req.url ?? "/", "http://dashboard").searchParams;
      const after = parseQueueCursor(query.get("after"));
      if (after === "invalid") return sendText(res, 400, "after must be <priority>~<item id>");
      const page = await pages.readQueue({ limit: QUEUE_PAGE_SIZE, after });
      if (path === "/api/queue") return send(res, 200, "application/json; charset=utf-8", JSON.stringify(page));
      return htmlPage(renderQueuePage(pageOptions, page, Math.max(1, Number(query.get("from")) || 1)));
    }
    if (path.startsWith("/items/")) {
      const id = idAfter(path, "/items/");
      const page = id ? await pages.readItem(id) : null;
      return page ? htmlPage(renderItemPage(pageOptions, page)) : sendText(res, 404, "no such item");
    }
    if (path.startsWith("/evaluations/")) {
      const id = idAfter(path, "/evaluations/");
      const detail = id ? await pages.readEvaluation(id) : null;
      if (!detail) return sendText(res, 404, "no such evaluation");
      return htmlPage(renderEvaluationPage(pageOptions, detail, await readReport(detail.reportUri)));
    }
    if (path === "/runs/compare") {
      const query = new URL(req.url ?? "/", "http://dashboard").searchParams;
      const [a, b] = await Promise.all([query.get("a"), query.get("b")].map((id) => (id ? pages.readRun(id) : Promise.resolve(null))));
      if (!a || !b) return sendText(res, 404, "compare needs two known runs: ?a=<run id>&b=<run id>");
      const comparison = await compareRuns(a, b, async (uri) => {
        const object = readObject ? await readObject(uri) : null;
        if (!object) throw new Error(`no ${uri}`);
        return JSON.parse(Buffer.from(object.body).toString("utf8")) as unknown;
      });
      return htmlPage(renderRunComparisonPage(pageOptions, comparison, a, b));
    }
    if (path.startsWith("/runs/")) {
      const runId = idAfter(path, "/runs/");
      const run = runId ? await pages.readRun(runId) : null;
      return run ? htmlPage(renderRunPage(pageOptions, run)) : sendText(res, 404, "no such run");
    }
    const id = idAfter(path, "/api/runs/");
    const run = id ? await pages.readRun(id) : null;
    return run ? send(res, 200, "application/json; charset=utf-8", JSON.stringify(run)) : sendText(res, 404, "no such run");
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let path = requestPath(req);
    if (path === null) return sendText(res, 400, "bad request");
    if (basePath && (path === basePath || path.startsWith(`${basePath}/`))) path = path.slice(basePath.length) || "/";
    if (options.routes && (await options.routes(req, res, path))) return;
    const method = req.method ?? "GET";
    if (method !== "GET" && method !== "HEAD") return sendText(res, 405, "method not allowed", { Allow: "GET, HEAD" });

    if (path === "/") {
      const page = renderDashboard(await options.getSnapshot(), {
        title: options.title,
        basePath,
        refreshSeconds: options.refreshSeconds,
        objectLink,
        detailPages: Boolean(options.pages),
      });
      return send(res, 200, "text/html; charset=utf-8", page, { "Content-Security-Policy": DASHBOARD_CSP });
    }
    if (path === "/api/status") {
      return send(res, 200, "application/json; charset=utf-8", JSON.stringify(await options.getSnapshot()));
    }
    if (path === "/api/failures" && options.listFailures) {
      const query = new URL(req.url ?? "/", "http://dashboard").searchParams;
      const limit = Math.min(Math.max(Number(query.get("limit") ?? 50) || 50, 1), 500);
      const at = query.get("before");
      const id = query.get("beforeId");
      if ((at !== null || id !== null) && (!at || id === null || Number.isNaN(Date.parse(at)))) return sendText(res, 400, "before needs an ISO time and beforeId");
      const failures = await options.listFailures({ limit, ...(at && id !== null ? { before: { at, id } } : {}) });
      const last = failures.length === limit ? failures[failures.length - 1] : undefined;
      return send(res, 200, "application/json; charset=utf-8", JSON.stringify({ failures, next: last ? { before: last.at, beforeId: last.id } : null }));
    }
    if (path === "/healthz") return sendText(res, 200, "ok");
    if (options.pages && (path === "/items" || path === "/queue" || path === "/api/queue" || path.startsWith("/runs/") || path.startsWith("/items/") || path.startsWith("/evaluations/") || path.startsWith("/api/runs/"))) {
      return servePage(req, res, path, options.pages);
    }
    if (path.startsWith("/objects/")) return serveObject(res, path.slice("/objects/".length));
    return sendText(res, 404, "not found");
  }

  return async (req, res) => {
    try {
      await route(req, res);
    } catch (err) {
      logger?.error("dashboard request failed", { method: req.method, path: requestPath(req), error: describeError(err) });
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendText(res, 500, "internal error");
    }
  };
}
