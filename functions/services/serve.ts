/**
 * serve — the Cloud Run service answering `POST /v1/models/{alias}:predict` and `GET /metrics`
 * (shared/serving/http.ts, the same routes the local runtime mounts on its dashboard port). Its
 * identity reads the models bucket and the database (aliases, models); Terraform's `serve_invokers`
 * hold run.invoker on it, nobody else. CPU by default; `serve_gpu = true` in Terraform runs it on
 * an L4 with ONNX_EXECUTION_PROVIDERS=cuda,cpu.
 *
 * A plain `node:http` server on $PORT (Cloud Run's contract); SIGTERM stops taking requests and
 * lets the ones in flight finish before the process exits.
 */
import { createServer } from "node:http";
import { createServingStack, type ServingStack } from "../../shared/serving/create.ts";
import { gcpDeps } from "../../shared/runtime/gcp.ts";

const deps = gcpDeps(
  {
    normaliser: async () => (await import("../../shared/adapters/imaging/normaliser.ts")).createNormaliser(),
    codec: async () => (await import("../../shared/adapters/imaging/codec.ts")).sharpCodec,
  },
  // Serving never migrates: the functions own the schema (and the advisory lock that serialises it).
  { service: "serve", migrate: false },
);

let stack: Promise<ServingStack> | undefined;
function servingStack(): Promise<ServingStack> {
  stack ??= (async () => {
    const d = await deps();
    return createServingStack({
      config: d.config, db: d.db, store: d.store, log: d.log, normaliser: d.normaliser, codec: d.codec,
      executionProviders: process.env.ONNX_EXECUTION_PROVIDERS ?? "cpu",
    });
  })().catch((err: unknown) => {
    stack = undefined; // e.g. Cloud SQL unreachable at cold start: try again on the next request
    throw err;
  });
  return stack;
}

const server = createServer((req, res) => {
  void (async () => {
    const path = (req.url ?? "/").split(/[?#]/, 1)[0] ?? "/";
    if (path === "/healthz") {
      res.writeHead(200, { "Content-Type": "text/plain" }).end("ok\n");
      return;
    }
    try {
      const { routes } = await servingStack();
      if (await routes(req, res, path)) return;
      res.writeHead(404, { "Content-Type": "application/json" }).end(JSON.stringify({ error: { code: "not_found", message: `no route ${path}` } }));
    } catch (err) {
      const [{ createLogger }, { describeError }] = await Promise.all([import("../../shared/adapters/log/pino.ts"), import("../../shared/errors.ts")]);
      createLogger({ base: { service: "serve" } }).error("serve unavailable", { error: describeError(err) });
      if (!res.headersSent) res.writeHead(503, { "Content-Type": "application/json" }).end(JSON.stringify({ error: { code: "unavailable", message: "serve unavailable, try again shortly" } }));
    }
  })();
});

server.listen(Number(process.env.PORT ?? 8080));

process.once("SIGTERM", () => {
  server.close(() => {
    void (stack ?? Promise.resolve(null))
      .then((s) => s?.predictor.close())
      .catch(() => undefined)
      .finally(() => process.exit(0));
  });
});
