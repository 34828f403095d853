/**
 * URL paths of the dashboard, built and parsed in one place so links and routes cannot drift:
 * `<basePath>/`, `<basePath>/api/status`, `<basePath>/healthz`, `<basePath>/objects/<bucket>/<name>`.
 */
import { objectUri, parseObjectUri } from "../core/uri.ts";

/** `""` for the root, otherwise `/a/b` (leading slash, no trailing slash). */
export function normaliseBasePath(basePath: string | undefined): string {
  const trimmed = (basePath ?? "").trim().replace(/\/+$/, "");
  if (trimmed === "") return "";
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(trimmed) || trimmed.split("/").some((s) => s === "." || s === "..")) {
    throw new Error(`dashboard basePath must look like /segment[/segment…], got ${JSON.stringify(basePath)}`);
  }
  return trimmed;
}

/** The dashboard route for a `gs://` URI: each name segment percent-encoded, slashes kept. */
export function objectPath(basePath: string, uri: string): string {
  const { bucket, name } = parseObjectUri(uri);
  return `${basePath}/objects/${encodeURIComponent(bucket)}/${name.split("/").map(encodeURIComponent).join("/")}`;
}

const BUCKET = /^[a-z0-9][a-z0-9._-]{0,220}$/;

export type ObjectPathResult = { ok: true; uri: string } | { ok: false; reason: string };

/**
 * Parses the part after `/objects/` back into a URI. Percent-escapes are decoded, and the decoded
 * name must not climb out of its bucket: no `.`/`..`/empty segments (also when smuggled in as
 * `%2e%2e` or `%2F`), no backslashes, no control characters.
 */
export function parseObjectPath(rest: string): ObjectPathResult {
  const slash = rest.indexOf("/");
  if (slash <= 0) return { ok: false, reason: "expected /objects/<bucket>/<name>" };
  let bucket: string;
  let name: string;
  try {
    bucket = decodeURIComponent(rest.slice(0, slash));
    name = decodeURIComponent(rest.slice(slash + 1));
  } catch {
    return { ok: false, reason: "malformed percent-encoding in object path" };
  }
  if (!BUCKET.test(bucket)) return { ok: false, reason: "invalid bucket name" };
  if (name === "") return { ok: false, reason: "missing object name" };
  if (/[\\\u0000-\u001f\u007f]/.test(name)) return { ok: false, reason: "object name contains a backslash or control character" };
  if (name.split("/").some((segment) => segment === "" || segment === "." || segment === "..")) {
    return { ok: false, reason: "object name must not contain empty, '.' or '..' segments" };
  }
  return { ok: true, uri: objectUri(bucket, name) };
}

/**
 * A notification link a browser can open: http(s) URLs as they are; with a dashboard URL, dashboard
 * paths (`/evaluations/…`) under it and `gs://` objects through its `/objects/…`; else null
 * (nobody can click `gs://`).
 */
export function dashboardLink(url: string, dashboardUrl: string | null | undefined): string | null {
  if (/^https?:\/\//i.test(url)) return url;
  if (!dashboardUrl) return null;
  const base = dashboardUrl.replace(/\/+$/, "");
  if (url.startsWith("gs://")) {
    try {
      return `${base}${objectPath("", url)}`;
    } catch {
      return null;
    }
  }
  if (url.startsWith("/") && !url.startsWith("//")) return `${base}${url}`;
  return null;
}
