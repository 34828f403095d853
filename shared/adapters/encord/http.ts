import * as z from "zod";
import { TransientError } from "../../errors.ts";
import type { Clock, Logger } from "../../ports.ts";
import { EncordApiError, EncordAuthError, V1_AUTH_CODES, V1_KNOWN_CODES, detailText } from "./errors.ts";
import type { EncordKey } from "./keys.ts";
import { encodeQuery, networkReason, parseJson, parseRetryAfter, v2Message, v2Scope } from "./http-parts.ts";
import { signV1, signV2, v2Created } from "./signing.ts";

export { encodeQuery, parseRetryAfter, v2Scope } from "./http-parts.ts";

/**
 * Transport for Encord's two APIs (docs/encord.md §1, §2, §10): signs each attempt afresh, applies a
 * timeout, retries what the SDK retries (network errors, 413/429/500/502/503, plus 504) with
 * backoff and `Retry-After`, and maps errors:
 *
 * - credentials refused (v1 `AUTHENTICATION_ERROR`/`SSH_KEY_NOT_FOUND_ERROR`, v2 401) →
 *   `EncordAuthError` at once, and every later call of this transport fails fast for a while: the
 *   key is refused everywhere, so one bad key produces one alert rather than a request storm;
 * - access refused (v1 `AUTHORISATION_ERROR`, v2 403) → `EncordAuthError` too, but only calls to
 *   the same resource (the project, dataset or storage folder the call addressed) fail fast. A
 *   403 says this key may not touch *that* resource — the SDK documents that a folder or item the
 *   user cannot see also answers 403 (`AuthorisationError`, encord/http/v2/error_utils.py) — so the
 *   project, the dataset and the other folders may well work and must not be blocked by it;
 * - other refusals (v2 4xx, documented v1 codes) → `EncordApiError` (a PermanentError);
 * - v1 `UNKNOWN_ERROR` or an undocumented code with a 5xx status in the body → retried;
 * - retries exhausted → `TransientError` (the platform redelivers later).
 *
 * Each attempt may take 180 s, the SDK's connect/read/write timeout (encord/http/constants.py), as
 * large listings and bundles legitimately take that long. A whole call (attempts, backoff) stays
 * within `callBudgetMs`, so it ends inside a function's 540 s timeout with a TransientError rather
 * than being killed mid-flight.
 *
 * Calls marked `retryable: false` (upload-job start, folder create) are re-sent only when the
 * connection was refused, i.e. the request certainly never reached Encord; callers make a second
 * attempt safe by looking before they create.
 */

export type QueryValue = string | number | boolean | null | undefined | readonly (string | number | boolean)[];
export type QueryParams = Record<string, QueryValue>;

export interface V2Request {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Path under `/v2/public/`, e.g. `storage/folders`. */
  path: string;
  query?: QueryParams;
  body?: unknown;
  retryable?: boolean;
  timeoutMs?: number;
}

export interface V1Request {
  resourceType: "project" | "dataset" | "ontology" | "";
  resourceId: string;
  queryType: string;
  method: "GET" | "POST" | "PUT" | "DELETE";
  uid: unknown;
  payload: unknown;
  retryable: boolean;
  /** User-scoped calls go to `/public/user` with empty resource headers. */
  userScoped?: boolean;
  timeoutMs?: number;
}

export interface EncordTransportOptions {
  /** `https://api.encord.com` (no trailing slash). */
  domain: string;
  /** Loaded lazily so a bad key surfaces as a PermanentError on first use, not at wiring time. */
  key: () => Promise<EncordKey>;
  clock: Clock;
  log: Logger;
  fetch?: typeof globalThis.fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Per-attempt timeout. Default 180 s, the SDK's. */
  requestTimeoutMs?: number;
  /** No attempt starts, and none runs, past this long after the call began. Default 420 s. */
  callBudgetMs?: number;
  /** Retries after the first attempt. Default 3, as the SDK. */
  maxRetries?: number;
  /** Sleep before retry n (1-based) when the server gave no `Retry-After`. */
  backoffMs?: readonly number[];
  /** A `Retry-After` longer than this is not waited out here: the TransientError carries it. */
  maxRetryAfterMs?: number;
  /** After refused credentials (all calls) or refused access (calls to that resource), calls fail fast for this long. Default 60 s. */
  authFailureHoldMs?: number;
}

/** Statuses worth another attempt (the SDK's status_forcelist plus 504). */
export const RETRY_STATUSES: ReadonlySet<number> = new Set([413, 429, 500, 502, 503, 504]);
const RETRY_AFTER_STATUSES: ReadonlySet<number> = new Set([413, 429, 503]);
const DEFAULT_BACKOFF_MS = [1_000, 3_000, 6_000, 10_000];
const USER_AGENT = "mlops-loop/0.1 (encord wire client; node)";

const V1EnvelopeSchema = z.object({
  status: z.number(),
  response: z.unknown(),
  payload: z.unknown().optional(),
});

type Outcome =
  | { ok: true; value: unknown }
  | { ok: false; retry: boolean; error: Error; retryAfterMs?: number };

interface PreparedRequest {
  url: string;
  init: RequestInit;
}

export class EncordTransport {
  private readonly fetchImpl: typeof globalThis.fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly backoffMs: readonly number[];
  private readonly maxRetryAfterMs: number;
  private readonly authHoldMs: number;
  private readonly callBudgetMs: number;
  /** The key was refused: everything fails fast for a while. */
  private authFailure: { error: EncordAuthError; at: number } | null = null;
  /** Access was refused to one resource (by scope, see `v2Scope`/`v1Scope`): only calls to it fail fast. */
  private readonly forbidden = new Map<string, { error: EncordAuthError; at: number }>();

  constructor(private readonly options: EncordTransportOptions) {
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.timeoutMs = options.requestTimeoutMs ?? 180_000;
    this.callBudgetMs = options.callBudgetMs ?? 420_000;
    this.maxRetries = options.maxRetries ?? 3;
    this.backoffMs = options.backoffMs ?? DEFAULT_BACKOFF_MS;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
    this.authHoldMs = options.authFailureHoldMs ?? 60_000;
  }

  /** A v2 REST call; resolves to the parsed JSON body (null for 204 or an empty body). */
  async v2(req: V2Request): Promise<unknown> {
    const query = encodeQuery(req.query);
    const url = new URL(`${this.options.domain}/v2/public/${req.path.replace(/^\/+|\/+$/g, "")}${query ? `?${query}` : ""}`);
    // Sign the target exactly as it will go on the wire.
    const target = url.pathname + url.search;
    const body = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body), "utf8");
    const label = `${req.method} ${url.pathname}`;
    return this.send(label, v2Scope(req.path), req.retryable ?? true, req.timeoutMs, async () => {
      const key = await this.options.key();
      const headers: Record<string, string> = {
        ...signV2({ method: req.method, target, body, created: v2Created(this.options.clock.now()) }, key),
        "User-Agent": USER_AGENT,
      };
      if (body) headers["Content-Type"] = "application/json";
      return { url: url.toString(), init: { method: req.method, headers, ...(body ? { body } : {}) } };
    }, (status, headers, text) => this.interpretV2(label, status, headers, text));
  }

  /** A v1 query call; resolves to the envelope's `response`. */
  async v1(req: V1Request): Promise<unknown> {
    const body = Buffer.from(JSON.stringify({ query_type: req.queryType, query_method: req.method, values: { uid: req.uid, payload: req.payload } }), "utf8");
    const url = `${this.options.domain}/public${req.userScoped ? "/user" : ""}`;
    const label = `v1 ${req.queryType} ${req.method}`;
    const scope = req.userScoped ? "user" : `${req.resourceType}:${req.resourceId}`;
    return this.send(label, scope, req.retryable, req.timeoutMs, async () => {
      const key = await this.options.key();
      const headers: Record<string, string> = {
        Accept: "application/json",
        "Content-Type": "application/json",
        ResourceType: req.userScoped ? "" : req.resourceType,
        ResourceID: req.userScoped ? "" : req.resourceId,
        Authorization: signV1(body, key),
        "User-Agent": USER_AGENT,
      };
      return { url, init: { method: "POST", headers, body } };
    }, (status, headers, text) => this.interpretV1(label, status, headers, text));
  }

  private async send(
    label: string,
    scope: string,
    retryable: boolean,
    timeoutMs: number | undefined,
    prepare: () => Promise<PreparedRequest>,
    interpret: (status: number, headers: Headers, text: string) => Outcome,
  ): Promise<unknown> {
    const callStarted = Date.now();
    for (let attempt = 1; ; attempt++) {
      this.throwIfAuthRecentlyFailed(scope);
      const { url, init } = await prepare(); // re-signed each attempt: `created` must stay fresh
      const started = Date.now();
      const attemptMs = Math.max(1, Math.min(timeoutMs ?? this.timeoutMs, this.callBudgetMs - (started - callStarted)));
      let outcome: Outcome;
      try {
        const res = await this.fetchImpl(url, { ...init, signal: AbortSignal.timeout(attemptMs) });
        const text = await res.text();
        this.options.log.debug("encord request", { request: label, status: res.status, attempt, durationMs: Date.now() - started });
        outcome = interpret(res.status, res.headers, text);
        // The request reached Encord: a non-idempotent call is not sent twice, whatever came back.
        if (!outcome.ok && !retryable) outcome.retry = false;
      } catch (err) {
        const reason = networkReason(err);
        // A refused connection never reached Encord, so even a non-idempotent call may be re-sent.
        outcome = { ok: false, retry: retryable || reason.notSent, error: new TransientError(`Encord ${label}: ${reason.text}`, { cause: err }) };
      }
      if (outcome.ok) return outcome.value;
      if (outcome.error instanceof EncordAuthError) {
        if (outcome.error.accessRefused) this.forbidden.set(scope, { error: outcome.error, at: Date.now() });
        else this.authFailure = { error: outcome.error, at: Date.now() };
      }
      if (!outcome.retry) throw outcome.error;
      const retryAfterMs = outcome.retryAfterMs;
      if (attempt > this.maxRetries) {
        throw new TransientError(`Encord ${label} failed after ${attempt} attempts: ${outcome.error.message}`, {
          cause: outcome.error,
          ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        });
      }
      const delay = retryAfterMs ?? this.backoffMs[Math.min(attempt - 1, this.backoffMs.length - 1)] ?? 1_000;
      if (delay > this.maxRetryAfterMs) {
        throw new TransientError(`Encord ${label}: asked to wait ${Math.ceil(delay / 1000)} s (${outcome.error.message})`, { cause: outcome.error, retryAfterMs: delay });
      }
      if (Date.now() - callStarted + delay >= this.callBudgetMs) {
        throw new TransientError(`Encord ${label}: no time left for another attempt after ${attempt} (${outcome.error.message})`, {
          cause: outcome.error,
          ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        });
      }
      this.options.log.warn("encord request will be retried", { request: label, attempt, delayMs: delay, reason: outcome.error.message });
      await this.sleep(delay);
    }
  }

  private throwIfAuthRecentlyFailed(scope: string): void {
    const now = Date.now();
    const held = this.authFailure && now - this.authFailure.at < this.authHoldMs ? this.authFailure : this.forbidden.get(scope);
    if (!held || now - held.at >= this.authHoldMs) {
      this.forbidden.delete(scope);
      return;
    }
    const { error } = held;
    throw new EncordAuthError(error.message, { encordCode: error.encordCode, httpStatus: error.httpStatus, payload: error.payload });
  }

  private retryOutcome(label: string, status: number, headers: Headers, message: string): Outcome {
    const retryAfterMs = RETRY_AFTER_STATUSES.has(status) ? parseRetryAfter(headers.get("retry-after"), this.options.clock.now()) : undefined;
    const error = new TransientError(`Encord ${label}: HTTP ${status}${message ? ` ${message}` : ""}`);
    return retryAfterMs === undefined ? { ok: false, retry: true, error } : { ok: false, retry: true, error, retryAfterMs };
  }

  private interpretV2(label: string, status: number, headers: Headers, text: string): Outcome {
    if (status === 204) return { ok: true, value: null };
    const json = parseJson(text);
    if (status === 200) {
      if (text.trim() === "") return { ok: true, value: null };
      if (json === undefined) return { ok: false, retry: true, error: new TransientError(`Encord ${label}: response is not JSON`) };
      return { ok: true, value: json };
    }
    const message = v2Message(json, text);
    if (RETRY_STATUSES.has(status)) return this.retryOutcome(label, status, headers, message);
    if (status === 401 || status === 403) {
      const what = status === 401 ? "authentication failed" : "not authorised";
      return { ok: false, retry: false, error: new EncordAuthError(`Encord ${label}: ${what} (HTTP ${status})${message ? `: ${message}` : ""}`, { encordCode: `HTTP_${status}`, httpStatus: status, payload: message }) };
    }
    if (status >= 500) return { ok: false, retry: false, error: new TransientError(`Encord ${label}: HTTP ${status} ${message}`.trim()) };
    return {
      ok: false,
      retry: false,
      error: new EncordApiError("encord_request_refused", `Encord ${label}: HTTP ${status}${message ? `: ${message}` : ""}`, { encordCode: `HTTP_${status}`, httpStatus: status, payload: message }),
    };
  }

  private interpretV1(label: string, status: number, headers: Headers, text: string): Outcome {
    const json = parseJson(text);
    const envelope = V1EnvelopeSchema.safeParse(json);
    if (!envelope.success) {
      if (RETRY_STATUSES.has(status)) return this.retryOutcome(label, status, headers, detailText(text, 200));
      if (status === 401 || status === 403) return this.interpretV2(label, status, headers, text);
      if (status >= 400) return this.interpretV2(label, status, headers, text);
      // The SDK's "Error parsing JSON response": most likely a proxy page; try again.
      return { ok: false, retry: true, error: new TransientError(`Encord ${label}: response is not a v1 JSON envelope (HTTP ${status})`) };
    }
    const { status: bodyStatus, response, payload } = envelope.data;
    if (bodyStatus === 200) return { ok: true, value: response };
    const code = Array.isArray(response) && typeof response[0] === "string" ? response[0] : "UNKNOWN_ERROR";
    const detail = detailText(payload);
    const message = `Encord ${label}: ${code}${detail ? ` (${detail})` : ""}`;
    const details = { encordCode: code, httpStatus: bodyStatus, payload };
    if (V1_AUTH_CODES.has(code)) return { ok: false, retry: false, error: new EncordAuthError(message, details) };
    // A server fault (UNKNOWN_ERROR or an undocumented code with a 5xx status) may pass; a
    // documented code is Encord's considered answer and is not asked again.
    if (!V1_KNOWN_CODES.has(code) && (bodyStatus >= 500 || RETRY_STATUSES.has(status))) {
      return this.retryOutcome(label, bodyStatus, headers, code);
    }
    return { ok: false, retry: false, error: new EncordApiError("encord_request_refused", message, details) };
  }
}
