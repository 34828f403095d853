import type { QueryParams } from "./http.ts";
import { detailText } from "./errors.ts";

/** Pieces of the Encord transport that need no state: query strings, headers, error texts. */

/** Python-`requests` style query string: lists repeat the key, booleans are `True`/`False`, nulls dropped. */
export function encodeQuery(params: QueryParams | undefined): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params ?? {})) {
    if (value == null) continue;
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) search.append(key, typeof v === "boolean" ? (v ? "True" : "False") : String(v));
  }
  return search.toString();
}

/** Seconds (integer) or an HTTP date → milliseconds; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | null, now: Date): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

/**
 * The resource a v2 path addresses, for scoping a refused access: `storage/folders/<uuid>` (its
 * items and upload jobs too), `projects/<hash>`, `datasets/<hash>`, or the collection itself
 * (`cloud-integrations`, `storage/folders`).
 */
export function v2Scope(path: string): string {
  const segments = path.replace(/^\/+|\/+$/g, "").split("/");
  return segments.slice(0, segments[0] === "storage" ? 3 : 2).join("/");
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export function v2Message(json: unknown, text: string): string {
  if (json && typeof json === "object") {
    const body = json as { message?: unknown; detail?: unknown };
    const m = body.message ?? body.detail;
    if (m !== undefined) return detailText(m, 300);
  }
  return detailText(text.trim(), 200);
}

export function networkReason(err: unknown): { text: string; notSent: boolean } {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === "TimeoutError" || e?.name === "AbortError") return { text: "timed out", notSent: false };
  const code = e?.cause?.code;
  const notSent = code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN";
  return { text: `network error (${code ?? e?.cause?.message ?? e?.message ?? "unknown"})`, notSent };
}
