import { PermanentError, TransientError } from "../../errors.ts";
import type { Logger } from "../../ports.ts";
import { networkReason, parseJson, parseRetryAfter } from "../encord/http-parts.ts";

/**
 * Transport for Label Studio's REST API (labelstud.io/api, api.labelstud.io): the base URL plus
 * `/api/…`, the legacy token as `Authorization: Token <key>` (labelstud.io/guide/access_tokens;
 * DRF TokenAuthentication in label_studio/jwt_auth/auth.py), JSON in and out.
 *
 * - Transient failures — the network, 408, 429 and 5xx, the statuses the official SDK retries
 *   (label_studio_sdk core/http_client.py) — are retried with back-off, honouring `Retry-After`;
 *   when retries run out the call fails with a TransientError (the platform redelivers later).
 * - 401 and 403 are a `LabelStudioAuthError`, other 4xx a `LabelStudioApiError`: both permanent,
 *   with Label Studio's `detail` (its error body: core/utils/common.py custom_exception_handler)
 *   and what to do. The key never appears in an error or a log line.
 * - Calls marked `retryable: false` (task import: re-posting creates duplicate tasks) are re-sent
 *   only when the connection was refused, i.e. the request certainly never reached Label Studio.
 */

export type QueryValue = string | number | boolean | null | undefined;

export interface LsRequest {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  /** Under `/api/`, spelled exactly as Label Studio does (most end in `/`, `…/import` does not). */
  path: string;
  query?: Record<string, QueryValue>;
  body?: unknown;
  retryable?: boolean;
}

export interface LsTransportOptions {
  /** Base URL without a trailing slash (`https://ls.example.com` or `https://x.example/ls`). */
  baseUrl: string;
  /** Read lazily: a missing key is a PermanentError on first use, not at wiring time. */
  apiKey: () => string;
  log: Logger;
  fetch?: typeof globalThis.fetch;
  sleep?: (ms: number) => Promise<void>;
  requestTimeoutMs?: number;
  /** Retries after the first attempt. Default 3. */
  maxRetries?: number;
  backoffMs?: readonly number[];
  /** A `Retry-After` longer than this is not waited out here: the TransientError carries it. */
  maxRetryAfterMs?: number;
}

export class LabelStudioApiError extends PermanentError {
  readonly httpStatus: number;
  constructor(code: string, message: string, httpStatus: number) {
    super(code, message);
    this.httpStatus = httpStatus;
  }
}

/** The key was refused (401) or may not touch the resource (403). */
export class LabelStudioAuthError extends LabelStudioApiError {
  constructor(message: string, httpStatus: number) {
    super("labelstudio_auth_failed", message, httpStatus);
  }
}

const RETRY_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);
const DEFAULT_BACKOFF_MS = [1_000, 2_000, 4_000, 8_000];

export class LabelStudioTransport {
  private readonly fetchImpl: typeof globalThis.fetch;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: LsTransportOptions) {
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  get baseUrl(): string {
    return this.options.baseUrl;
  }

  async request(req: LsRequest): Promise<unknown> {
    const url = new URL(`${this.options.baseUrl}/api/${req.path.replace(/^\/+/, "")}`);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== null && v !== undefined) url.searchParams.set(k, String(v));
    const label = `${req.method} ${url.pathname}`;
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    const retryable = req.retryable ?? true;
    const maxRetries = this.options.maxRetries ?? 3;
    const backoff = this.options.backoffMs ?? DEFAULT_BACKOFF_MS;
    for (let attempt = 1; ; attempt++) {
      const headers: Record<string, string> = { Authorization: `Token ${this.options.apiKey()}`, Accept: "application/json" };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      let error: Error;
      let retry: boolean;
      let retryAfterMs: number | undefined;
      const started = Date.now();
      try {
        const res = await this.fetchImpl(url, { method: req.method, headers, ...(body === undefined ? {} : { body }), signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 60_000) });
        const text = await res.text();
        this.options.log.debug("label studio request", { request: label, status: res.status, attempt, durationMs: Date.now() - started });
        if (res.status >= 200 && res.status < 300) {
          if (res.status === 204 || text.trim() === "") return null;
          const json = parseJson(text);
          if (json === undefined) throw new TransientError(`Label Studio ${label}: the response is not JSON (a proxy page?)`);
          return json;
        }
        const detail = detailOf(text);
        if (RETRY_STATUSES.has(res.status)) {
          error = new TransientError(`Label Studio ${label}: HTTP ${res.status}${detail ? ` ${detail}` : ""}`);
          retry = retryable;
          retryAfterMs = parseRetryAfter(res.headers.get("retry-after"), new Date());
        } else {
          throw refusal(label, res.status, detail);
        }
      } catch (err) {
        if (err instanceof PermanentError || err instanceof TransientError) throw err;
        const reason = networkReason(err);
        error = new TransientError(`Label Studio ${label}: ${reason.text}`, { cause: err });
        retry = retryable || reason.notSent;
      }
      if (!retry || attempt > maxRetries) {
        throw new TransientError(attempt > 1 ? `${error.message} (after ${attempt} attempts)` : error.message, { cause: error, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
      }
      const delay = retryAfterMs ?? backoff[Math.min(attempt - 1, backoff.length - 1)] ?? 1_000;
      if (delay > (this.options.maxRetryAfterMs ?? 60_000)) {
        throw new TransientError(`${error.message}; asked to wait ${Math.ceil(delay / 1000)} s`, { cause: error, retryAfterMs: delay });
      }
      this.options.log.warn("label studio request will be retried", { request: label, attempt, delayMs: delay, reason: error.message });
      await this.sleep(delay);
    }
  }
}

function refusal(label: string, status: number, detail: string): LabelStudioApiError {
  const said = detail ? `: ${detail}` : "";
  if (status === 401) {
    return new LabelStudioAuthError(
      `Label Studio ${label}: the API key was refused (HTTP 401${said}). Set LABEL_STUDIO_API_KEY to a legacy access token (Account & Settings → Access Token; an organization may need legacy tokens enabled under Organization → Settings → Access Token Settings)`,
      status,
    );
  }
  if (status === 403) return new LabelStudioAuthError(`Label Studio ${label}: not allowed (HTTP 403${said}). Give the key's user a role in the project's organization`, status);
  if (status === 404) return new LabelStudioApiError("labelstudio_not_found", `Label Studio ${label}: not found (HTTP 404${said})`, status);
  return new LabelStudioApiError("labelstudio_request_refused", `Label Studio ${label}: refused (HTTP ${status}${said})`, status);
}

/** Label Studio's error body: `detail`, plus `validation_errors` for a 400. */
function detailOf(text: string): string {
  const json = parseJson(text) as { detail?: unknown; validation_errors?: unknown } | undefined;
  let out: string;
  if (json && typeof json === "object") {
    const parts = [typeof json.detail === "string" ? json.detail : "", json.validation_errors ? JSON.stringify(json.validation_errors) : ""].filter(Boolean);
    out = parts.join(" ") || JSON.stringify(json);
  } else {
    out = text.trim();
  }
  out = out.replace(/\s+/g, " ");
  return out.length > 300 ? `${out.slice(0, 299)}…` : out;
}
