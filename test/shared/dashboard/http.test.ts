import { createHash } from "node:crypto";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as ff from "@google-cloud/functions-framework";
import { getTestServer } from "@google-cloud/functions-framework/testing";
import { afterEach, describe, expect, it } from "vitest";
import { memoryLogger } from "../../../shared/adapters/basics.ts";
import { PermanentError } from "../../../shared/errors.ts";
import { sampleStatusSnapshot } from "../../../shared/dashboard/fixtures.ts";
import { createDashboardHandler, type DashboardHandlerOptions, type DashboardObject } from "../../../shared/dashboard/http.ts";
import { tags } from "./markup.ts";

const REPORT_URI = sampleStatusSnapshot().evaluations[0]!.reportUri!;
const REPORT_BODY = new TextEncoder().encode('{"overall":{"mIoU":0.8123}}');

/** An in-memory store holding the sample's report, plus one object with an awkward name. */
const objects = new Map<string, DashboardObject>([
  [REPORT_URI, { body: REPORT_BODY }],
  ["gs://mlops-models/odd name/r#1?.md", { body: new TextEncoder().encode("# odd"), contentType: "text/markdown" }],
]);
const readObject = async (uri: string): Promise<DashboardObject | null> => objects.get(uri) ?? null;

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function serve(overrides: Partial<DashboardHandlerOptions> = {}): Promise<string> {
  const handler = createDashboardHandler({ getSnapshot: async () => sampleStatusSnapshot(), readObject, ...overrides });
  return listen(createServer((req, res) => void handler(req, res)));
}

/** Sends a path byte-for-byte (fetch would normalise `..` away before it reached the server). */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method: "GET" }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("dashboard HTTP handler", () => {
  it("pages through failures with a keyset cursor", async () => {
    const all = Array.from({ length: 5 }, (_, i) => ({ kind: "item" as const, id: `it_${i}`, reason: "bad", at: new Date(Date.UTC(2026, 0, 10 - i)).toISOString(), attempts: 1 }));
    const asked: unknown[] = [];
    const base = await serve({
      listFailures: async ({ limit, before }) => {
        asked.push(before ?? null);
        return all.filter((f) => !before || f.at < before.at).slice(0, limit);
      },
    });
    const first = (await (await fetch(`${base}/api/failures?limit=2`)).json()) as { failures: { id: string }[]; next: { before: string; beforeId: string } };
    expect(first.failures.map((f) => f.id)).toEqual(["it_0", "it_1"]);
    const second = (await (await fetch(`${base}/api/failures?limit=2&before=${encodeURIComponent(first.next.before)}&beforeId=${first.next.beforeId}`)).json()) as typeof first;
    expect(second.failures.map((f) => f.id)).toEqual(["it_2", "it_3"]);
    const last = (await (await fetch(`${base}/api/failures?limit=2&before=${encodeURIComponent(second.next.before)}&beforeId=${second.next.beforeId}`)).json()) as { failures: { id: string }[]; next: null };
    expect([last.failures.map((f) => f.id), last.next]).toEqual([["it_4"], null]);
    expect(asked[1]).toEqual({ at: all[1]!.at, id: "it_1" });
    expect((await fetch(`${base}/api/failures?before=yesterday&beforeId=x`)).status).toBe(400);
  });

  it("serves the page as HTML with no-store caching and a hash-based CSP", async () => {
    const base = await serve();
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-store");
    const page = await res.text();
    expect(page).toContain('<section id="funnel"');
    const csp = res.headers.get("content-security-policy")!;
    const script = /<script>([\s\S]*?)<\/script>/.exec(page)![1]!;
    expect(csp).toContain(`'sha256-${createHash("sha256").update(script).digest("base64")}'`);
    expect(csp).toContain("default-src 'none'");
  });

  it("serves the snapshot as JSON", async () => {
    const base = await serve();
    const res = await fetch(`${base}/api/status?x=1`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toEqual(sampleStatusSnapshot());
  });

  it("answers the health check", async () => {
    const base = await serve();
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect((await res.text()).trim()).toBe("ok");
  });

  it("serves the objects the page links to", async () => {
    const base = await serve();
    const page = await (await fetch(`${base}/`)).text();
    const reportHref = tags(page, "a").map((a) => a.attrs.href!).find((h) => h.endsWith("/report.json") && h.includes("evaluations"))!;
    expect(reportHref.startsWith("/objects/mlops-models/")).toBe(true);
    const res = await fetch(`${base}${reportHref}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(res.headers.get("content-security-policy")).toContain("sandbox");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(REPORT_BODY);
  });

  it("decodes percent-encoded object names and honours the reader's content type", async () => {
    const base = await serve();
    const res = await fetch(`${base}/objects/mlops-models/odd%20name/r%231%3F.md`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/markdown");
    expect(await res.text()).toBe("# odd");
  });

  it("refuses traversal attempts before reading anything", async () => {
    const asked: string[] = [];
    const base = await serve({ readObject: async (uri) => (asked.push(uri), null) });
    for (const path of [
      "/objects/mlops-models/../../etc/passwd",
      "/objects/mlops-models/%2e%2e/%2e%2e/etc/passwd",
      "/objects/mlops-models/a%2F..%2F..%2Fsecret",
      "/objects/mlops-models/a%5C..%5Csecret",
      "/objects/..%2Fsecret/x",
      "/objects/mlops-models/%E0%A4%A",
    ]) {
      const res = await rawGet(base, path);
      expect(res.status, path).toBe(400);
      expect(res.body).toMatch(/^bad object path: /);
    }
    expect(asked).toEqual([]);
  });

  it("answers 404 for missing objects, refused names and when no reader is configured", async () => {
    const base = await serve({
      readObject: async (uri) => {
        if (uri.endsWith("refused.json")) throw new PermanentError("bad_object_name", `object name escapes the store: ${uri}`);
        return null;
      },
    });
    expect((await fetch(`${base}/objects/mlops-models/missing.json`)).status).toBe(404);
    expect((await fetch(`${base}/objects/mlops-models/refused.json`)).status).toBe(404);
    const noReader = await serve({ readObject: undefined });
    expect((await fetch(`${noReader}${"/objects/mlops-models/evaluations/x/report.json"}`)).status).toBe(404);
    // ...and without a reader the page links no objects.
    const page = await (await fetch(`${noReader}/`)).text();
    expect(tags(page, "a").filter((a) => a.attrs.href?.includes("/objects/"))).toHaveLength(0);
  });

  it("answers 404 for unknown paths and 405 for other methods", async () => {
    const base = await serve();
    for (const path of ["/nope", "/api", "/api/status/extra", "/favicon.ico", "/objects"]) expect((await fetch(`${base}${path}`)).status, path).toBe(404);
    const post = await fetch(`${base}/api/status`, { method: "POST", body: "{}" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
    const head = await fetch(`${base}/`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
  });

  it("turns a failing snapshot read into a short 500 without the message or stack", async () => {
    const logger = memoryLogger();
    const failure = new Error("connect ECONNREFUSED postgres://ops:hunter2@10.0.0.5/mlops");
    const base = await serve({ getSnapshot: () => Promise.reject(failure), logger });
    for (const path of ["/", "/api/status"]) {
      const res = await fetch(`${base}${path}`);
      expect(res.status).toBe(500);
      const body = await res.text();
      expect(body.trim()).toBe("internal error");
      expect(body).not.toContain("hunter2");
      expect(body).not.toContain("ECONNREFUSED");
      expect(body).not.toMatch(/\bat \S+ \(/);
    }
    expect(logger.entries.filter((e) => e.level === "error")).toHaveLength(2);
    expect(logger.entries[0]!.fields.path).toBe("/");
  });

  it("works under a base path and links relative to it", async () => {
    const base = await serve({ basePath: "/dashboard" });
    const page = await (await fetch(`${base}/dashboard/`)).text();
    expect(page).toContain('href="/dashboard/api/status"');
    const hrefs = tags(page, "a").map((a) => a.attrs.href!);
    expect(hrefs.filter((h) => h.includes("/objects/")).every((h) => h.startsWith("/dashboard/objects/"))).toBe(true);
    expect((await fetch(`${base}/dashboard/api/status`)).status).toBe(200);
    expect((await fetch(`${base}/dashboard`)).status).toBe(200);
    // A proxy that strips the prefix (Cloud Functions URLs) reaches the same routes.
    expect((await fetch(`${base}/api/status`)).status).toBe(200);
  });
});

describe("inside the Functions Framework", () => {
  it("serves the page and the JSON through ff.http", async () => {
    const handler = createDashboardHandler({ getSnapshot: async () => sampleStatusSnapshot(), readObject });
    ff.http("dashboardUnderTest", (req, res) => handler(req, res));
    const base = await listen(getTestServer("dashboardUnderTest"));
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'sha256-");
    expect(await page.text()).toContain('<section id="leaderboard"');
    const json = await fetch(`${base}/api/status`);
    expect(await json.json()).toEqual(sampleStatusSnapshot());
    const report = await fetch(`${base}/objects/mlops-models/${REPORT_URI.slice("gs://mlops-models/".length)}`);
    expect(new Uint8Array(await report.arrayBuffer())).toEqual(REPORT_BODY);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });
});
