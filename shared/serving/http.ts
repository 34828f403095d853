/**
 * HTTP routes of the model server, shared by the local runtime (mounted on the dashboard port) and
 * the `serve` Cloud Run service (functions/serve.ts):
 *
 *   POST /v1/models/{alias}:predict   body: the raw bytes of an upload (application/octet-stream),
 *                                     or JSON `{ "uri": "gs://…", "outputUri": "gs://…" }`
 *   GET  /metrics                     Prometheus text format
 *
 * Answers: 200 with the prediction JSON; 400 bad input (the normaliser's reason); 404 unknown
 * alias or no model; 413 too large; 415 other content types; 500/503 on our side. Error bodies
 * are JSON `{ error: { code, message } }`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import * as z from "zod";
import { describeError } from "../errors.ts";
import type { Logger } from "../ports.ts";
import { ServingError, type PredictOutcome, type Predictor } from "./predictor.ts";
import type { ServingMetrics } from "./metrics.ts";

const PREDICT_PATH = /^\/v1\/models\/([^/:]+):predict$/;

const UriBody = z.object({
  uri: z.string().regex(/^gs:\/\/[^/]+\/.+/, "a gs://bucket/name URI"),
  outputUri: z.string().regex(/^gs:\/\/[^/]+\/.+/, "a gs://bucket/name URI").optional(),
}).strict();

export interface ServingRoutesOptions {
  predictor: Predictor | null;
  metrics: ServingMetrics;
  maxRequestBytes: number;
  log?: Logger;
  /** Called after each successful prediction (drift statistics); its failure never fails the request. */
  onPredicted?: (outcome: PredictOutcome, alias: string) => Promise<void>;
}

export type ServingRoutes = (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean>;

/** Returns true when it answered the request; false leaves it to the next handler. */
export function createServingRoutes(options: ServingRoutesOptions): ServingRoutes {
  const { metrics, log } = options;
  return async (req, res, path) => {
    if (path === "/metrics") {
      if (req.method !== "GET" && req.method !== "HEAD") {
        sendJsonError(res, 405, "method_not_allowed", "GET /metrics", { Allow: "GET, HEAD" });
        return true;
      }
      const body = await metrics.render();
      res.writeHead(200, { "Content-Type": metrics.contentType, "Cache-Control": "no-store", "Content-Length": String(Buffer.byteLength(body)) });
      res.end(req.method === "HEAD" ? undefined : body);
      return true;
    }
    const match = PREDICT_PATH.exec(path);
    if (!match) return false;
    let alias: string;
    try {
      alias = decodeURIComponent(match[1]!);
    } catch {
      sendJsonError(res, 400, "bad_alias", "the alias is not valid percent-encoding");
      return true;
    }
    if (req.method !== "POST") {
      sendJsonError(res, 405, "method_not_allowed", "predictions are POST requests", { Allow: "POST" });
      return true;
    }
    const started = performance.now();
    let modelId = "none";
    let status = 500;
    try {
      if (!options.predictor) throw new ServingError(503, "serving_disabled", "this runtime does not serve models");
      const outcome = await handlePredict(req, alias, options.predictor, options.maxRequestBytes);
      modelId = outcome.answer.modelId;
      status = 200;
      sendJson(res, 200, { ...outcome.answer, ...(outcome.maskUri ? { maskUri: outcome.maskUri } : {}) });
      if (options.onPredicted) {
        options.onPredicted(outcome, alias).catch((err: unknown) => log?.warn("could not record prediction statistics", { alias, error: describeError(err) }));
      }
    } catch (err) {
      if (err instanceof ServingError) {
        status = err.status;
        sendJsonError(res, err.status, err.code, err.message);
      } else {
        log?.error("prediction failed", { alias, error: describeError(err) });
        sendJsonError(res, 500, "internal", "prediction failed; see the service log");
      }
    } finally {
      metrics.observePrediction(alias, modelId, status, (performance.now() - started) / 1000);
    }
    return true;
  };
}

async function handlePredict(req: IncomingMessage, alias: string, predictor: Predictor, maxBytes: number): Promise<PredictOutcome & { maskUri: string | null }> {
  const type = (req.headers["content-type"] ?? "application/octet-stream").split(";")[0]!.trim().toLowerCase();
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    throw new ServingError(413, "too_large", `the request body is ${declared} bytes; predictions accept at most PREDICT_MAX_BYTES=${maxBytes}`);
  }
  if (type === "application/json") {
    const raw = await readBody(req, Math.min(maxBytes, 64 * 1024));
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(raw).toString("utf8"));
    } catch {
      throw new ServingError(400, "bad_json", "the body is not JSON");
    }
    const body = UriBody.safeParse(parsed);
    if (!body.success) {
      const issue = body.error.issues[0];
      throw new ServingError(400, "bad_request", `expected { "uri": "gs://…", "outputUri"?: "gs://…" }: ${issue?.path.join(".") || "body"}: ${issue?.message}`);
    }
    return predictor.predictObject(alias, body.data.uri, body.data.outputUri);
  }
  if (type !== "application/octet-stream" && !type.startsWith("image/") && type !== "application/zip") {
    req.resume();
    throw new ServingError(400, "unsupported_content_type", `send the upload as application/octet-stream (or JSON with a uri), not ${type}`);
  }
  const bytes = await readBody(req, maxBytes);
  return { ...(await predictor.predict(alias, bytes)), maskUri: null };
}

/** Reads the body, refusing it with 413 as soon as it passes `max` bytes. */
function readBody(req: IncomingMessage, max: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > max) {
        failed = true;
        reject(new ServingError(413, "too_large", `the request body is over ${max} bytes (PREDICT_MAX_BYTES)`));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (!failed) resolve(Buffer.concat(chunks, size));
    });
    req.on("error", (err) => {
      if (!failed) reject(err);
    });
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store", "Content-Length": String(Buffer.byteLength(text)) });
  res.end(text);
}

function sendJsonError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: { code, message } }, headers);
}
