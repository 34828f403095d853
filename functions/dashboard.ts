/**
 * dashboard — HTTP function serving the status page, `/api/status` and `/objects/<bucket>/<name>`
 * (object bytes read with the function's own bucket-scoped identity). It is never public: only
 * the principals in Terraform's `dashboard_viewers` hold run.invoker on it.
 */
import * as ff from "@google-cloud/functions-framework";
import type { DashboardHandler } from "../shared/dashboard/http.ts";
import { gcpDeps } from "../shared/runtime/gcp.ts";

const deps = gcpDeps({}, { service: "dashboard" });

let handler: Promise<DashboardHandler> | undefined;

/** Built on the first request (not at import) so a cold start costs only the framework. */
function dashboardHandler(): Promise<DashboardHandler> {
  handler ??= (async () => {
    const [{ createDashboardHandler, dashboardPages }, { listFailures, readStatusSnapshot }, queries, { db, store, log }] = await Promise.all([
      import("../shared/dashboard/http.ts"),
      import("../shared/db/queries/status.ts"),
      import("../shared/db/queries/pages.ts"),
      deps(),
    ]);
    return createDashboardHandler({
      title: "mlops-loop",
      logger: log,
      getSnapshot: () => readStatusSnapshot(db),
      listFailures: (o) => listFailures(db, o),
      pages: dashboardPages(db, queries),
      readObject: async (uri) => {
        const info = await store.head(uri);
        return info ? { body: await store.get(uri), ...(info.contentType ? { contentType: info.contentType } : {}) } : null;
      },
    });
  })().catch((err: unknown) => {
    handler = undefined; // e.g. Cloud SQL unreachable at cold start: try again on the next request
    throw err;
  });
  return handler;
}

ff.http("dashboard", async (req, res) => {
  try {
    await (await dashboardHandler())(req, res);
  } catch (err) {
    // The handler answers its own errors; this is a failed cold start. No details to the client.
    const [{ createLogger }, { describeError }] = await Promise.all([import("../shared/adapters/log/pino.ts"), import("../shared/errors.ts")]);
    createLogger({ base: { service: "dashboard" } }).error("dashboard unavailable", { error: describeError(err) });
    if (!res.headersSent) res.status(503).type("text/plain").send("dashboard unavailable, try again shortly\n");
  }
});
