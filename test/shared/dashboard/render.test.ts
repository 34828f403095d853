import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ITEM_STATES, type StatusSnapshot } from "../../../shared/core/status/snapshot.ts";
import { DASHBOARD_CSP } from "../../../shared/dashboard/assets.ts";
import { emptyStatusSnapshot, sampleStatusSnapshot } from "../../../shared/dashboard/fixtures.ts";
import { objectPath } from "../../../shared/dashboard/paths.ts";
import { renderDashboard, SECTION_IDS } from "../../../shared/dashboard/render.ts";
import { elementById, tags, unescape } from "./markup.ts";

const localLink = (uri: string): string => objectPath("", uri);

function between(markup: string, start: string, end: string): string {
  const i = markup.indexOf(start);
  if (i === -1) throw new Error(`missing ${start}`);
  return markup.slice(i, markup.indexOf(end, i + start.length));
}

describe("renderDashboard with the sample snapshot", () => {
  const snapshot = sampleStatusSnapshot();
  const page = renderDashboard(snapshot, { objectLink: localLink });

  it("renders one complete document with every section, in order", () => {
    expect(page.startsWith("<!doctype html>")).toBe(true);
    expect(page.trimEnd().endsWith("</html>")).toBe(true);
    const positions = SECTION_IDS.map((id) => page.indexOf(` id="${id}"`));
    expect(positions.every((p) => p > 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });

  it("shows the header counts", () => {
    const header = elementById(page, "overview");
    const count = (key: string): string => /<dd>([^<]*)<\/dd>/.exec(between(header, `data-count="${key}"`, "</div>"))![1]!;
    expect(count("total")).toBe(String(snapshot.itemsTotal));
    expect(count("accepted")).toBe(String(snapshot.funnel.accepted));
    expect(count("in_dataset")).toBe(String(snapshot.funnel.in_dataset));
    expect(count("failed")).toBe(String(snapshot.itemsByState.failed));
  });

  it("names the model holding each alias, and since when", () => {
    const header = elementById(page, "overview");
    for (const { alias, modelId } of snapshot.aliases) {
      const item = between(header, `data-alias="${alias}"`, "</li>");
      const name = snapshot.leaderboard.find((m) => m.modelId === modelId)!.name;
      expect(item).toContain(name);
      expect(item).toContain(`title="${modelId}"`);
      expect(item).toContain("since");
    }
  });

  it("lists pending reviews with the exact command that resolves them", () => {
    const review = snapshot.pendingReviews[0]!;
    const header = elementById(page, "overview");
    expect(header).toContain(`<code class="command">mlops command approve ${review.evaluationId}</code>`);
    expect(header).toContain(`mlops command reject ${review.evaluationId}`);
    for (const reason of review.reasons) expect(unescape(header)).toContain(reason);
  });

  it("shows reached and current counts for every item state in the funnel", () => {
    const funnel = elementById(page, "funnel");
    const bars = tags(funnel, "rect").filter((r) => r.attrs["data-series"]);
    for (const state of ITEM_STATES) {
      const row = bars.filter((b) => b.attrs.class?.includes(`state-${state}`));
      expect(row.find((b) => b.attrs["data-series"] === "reached")?.attrs["data-value"], state).toBe(String(snapshot.funnel[state]));
      expect(row.find((b) => b.attrs["data-series"] === "now")?.attrs["data-value"], state).toBe(String(snapshot.itemsByState[state]));
    }
    for (const state of ITEM_STATES) {
      const tableRow = between(funnel, `<span class="state-name" data-state="${state}">`, "</tr>");
      expect(tableRow).toContain(`</td><td>${snapshot.funnel[state]}</td><td>${snapshot.itemsByState[state]}</td>`);
    }
  });

  it("draws one throughput bar per bucket", () => {
    const throughput = elementById(page, "throughput");
    expect(tags(throughput, "g").filter((g) => g.attrs["data-bucket"])).toHaveLength(snapshot.throughput.length);
    const accepted = snapshot.throughput.reduce((s, b) => s + b.accepted, 0);
    expect(throughput).toContain(`${accepted} accepted`);
  });

  it("lists dataset versions with links to their manifests", () => {
    const datasets = elementById(page, "datasets");
    const hrefs = tags(datasets, "a").map((a) => a.attrs.href);
    for (const v of snapshot.datasetVersions) {
      expect(datasets).toContain(`<strong>v${v.seq}</strong>`);
      expect(datasets).toContain(`title="${v.id}">${v.id.slice(0, 12)}</code>`);
      expect(hrefs).toContain(localLink(v.manifestUri));
    }
  });

  it("colours training run states and shows the failed run's error", () => {
    const runs = elementById(page, "runs");
    expect(runs).toContain('<span class="badge bad">failed</span>');
    expect(runs).toContain('<span class="badge ok">succeeded</span>');
    expect(runs).toContain('<span class="badge info">running</span>');
    const failed = snapshot.trainingRuns.find((r) => r.state === "failed")!;
    expect(runs).toContain(failed.error!);
  });

  it("ranks the leaderboard, badges aliases and charts the metric with promoted models marked", () => {
    const board = elementById(page, "leaderboard");
    const positions = snapshot.leaderboard.map((m) => board.indexOf(`>${m.name}<`));
    expect(positions.every((p) => p > 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(board).toContain('<span class="badge info">staging</span>');
    expect(board).toContain('<span class="badge ok">prod</span>');
    const dots = tags(board, "circle").filter((c) => c.attrs["data-model"]);
    expect(dots.map((d) => d.attrs["data-model"]).sort()).toEqual(snapshot.leaderboard.map((m) => m.modelId).sort());
    // Both sample models have held an alias.
    expect(dots.every((d) => d.attrs["data-promoted"] === "true")).toBe(true);
  });

  it("compares candidate and champion in the evaluations", () => {
    const evaluations = elementById(page, "evaluations");
    // 0.8123 − 0.7641 = 0.0482
    expect(evaluations).toContain("0.8123");
    expect(evaluations).toContain("0.7641");
    expect(evaluations).toContain("+0.0482");
    expect(evaluations).toContain("no champion");
    expect(tags(evaluations, "a").map((a) => a.attrs.href)).toContain(localLink(snapshot.evaluations[0]!.reportUri!));
  });

  it("lists every alias move, including the first one from nothing", () => {
    const history = elementById(page, "alias-history");
    expect(tags(history, "tr")).toHaveLength(snapshot.aliasHistory.length + 1);
    expect(history).toContain('<span class="muted">none</span> →');
    expect(unescape(history)).toContain(snapshot.aliasHistory[0]!.reason);
  });

  it("shows failed items with their readable reason", () => {
    const failures = elementById(page, "failures");
    for (const f of snapshot.failures) {
      expect(failures).toContain(f.id);
      expect(unescape(failures)).toContain(f.reason);
    }
  });

  it("lists items with warnings and duplicates (with the item they duplicate) next to the failures", () => {
    const failures = unescape(elementById(page, "failures"));
    expect(snapshot.itemWarnings.length + snapshot.duplicates.length).toBeGreaterThan(1);
    for (const w of snapshot.itemWarnings) {
      expect(failures).toContain(w.id);
      for (const text of w.warnings) expect(failures).toContain(text);
    }
    for (const d of snapshot.duplicates) {
      const row = between(failures, d.id, "</tr>");
      expect(row).toContain(d.duplicateOf);
      expect(row).toContain(d.sourceName);
    }
  });

  it("shows the latest notifications", () => {
    const notifications = elementById(page, "notifications");
    for (const n of snapshot.notifications) expect(unescape(notifications)).toContain(n.title);
  });

  it("is deterministic", () => {
    expect(renderDashboard(snapshot, { objectLink: localLink })).toBe(page);
  });
});

describe("renderDashboard options", () => {
  const snapshot = sampleStatusSnapshot();

  it("shows object URIs as text when no link builder is given", () => {
    const page = renderDashboard(snapshot);
    expect(tags(page, "a").filter((a) => a.attrs.href?.includes("/objects/"))).toHaveLength(0);
    expect(elementById(page, "datasets")).toContain(`title="${snapshot.datasetVersions[0]!.manifestUri}"`);
  });

  it("never turns an unsafe link into an href", () => {
    const page = renderDashboard(snapshot, { objectLink: () => "javascript:alert(1)" });
    expect(page).not.toContain("javascript:");
  });

  it("prefixes its own links with the base path and sets the refresh interval", () => {
    const page = renderDashboard(snapshot, { basePath: "/dashboard/", refreshSeconds: 15, title: "Cloud masks" });
    expect(page).toContain('<a href="/dashboard/api/status">');
    expect(page).toContain('<body data-refresh-seconds="15">');
    expect(page).toContain('<meta http-equiv="refresh" content="15">');
    expect(page).toContain('<h1 id="overview-title">Cloud masks</h1>');
  });

  it("turns refreshing off with refreshSeconds 0", () => {
    const page = renderDashboard(snapshot, { refreshSeconds: 0 });
    expect(page).toContain('data-refresh-seconds="0"');
    expect(page).not.toContain('http-equiv="refresh"');
  });
});

describe("renderDashboard with an empty snapshot", () => {
  const page = renderDashboard(emptyStatusSnapshot());

  it("renders every section with a clear empty state", () => {
    for (const id of SECTION_IDS) expect(page).toContain(` id="${id}"`);
    for (const text of [
      "No items yet",
      "No labels received in this window yet.",
      "No dataset versions yet.",
      "No training runs yet.",
      "No models yet",
      "No evaluations yet.",
      "No alias has moved yet.",
      "No recent failures.",
      "No notifications yet.",
      "No promotion is waiting for review.",
    ]) {
      expect(page).toContain(text);
    }
    expect(tags(page, "table")).toHaveLength(0);
    expect(tags(page, "svg")).toHaveLength(0);
  });

  it("shows zero counts and unheld aliases", () => {
    const header = elementById(page, "overview");
    expect(header).toContain('data-count="total"><dt>items</dt><dd>0</dd>');
    expect(between(header, 'data-alias="staging"', "</li>")).toContain("no model yet");
    expect(between(header, 'data-alias="prod"', "</li>")).toContain("no model yet");
  });
});

describe("escaping", () => {
  const PAYLOAD = `<script>alert(1)</script>"'><img src=x onerror=alert(2)></style></svg>`;

  /** Appends the payload to every string in the snapshot: names, reasons, URIs, ids, even dates. */
  function poison<T>(value: T): T {
    if (typeof value === "string") return `${value}${PAYLOAD}` as T;
    if (Array.isArray(value)) return value.map((v: unknown) => poison(v)) as T;
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, poison(v)])) as T;
    return value;
  }

  const hostile: StatusSnapshot = poison(sampleStatusSnapshot());
  // Keep one parseable time so relative-time titles are exercised too.
  hostile.generatedAt = "2026-11-23T14:05:00.000Z";
  hostile.failures.push({ kind: "item", id: "itm_x", reason: `corrupt_zip: ${PAYLOAD}.zip`, at: "2026-11-23T14:00:00.000Z", attempts: 1 });
  const page = renderDashboard(hostile, { objectLink: localLink, title: `Ops ${PAYLOAD}` });

  const ALLOWED_TAGS = new Set([
    "html", "head", "meta", "title", "link", "noscript", "style", "body", "main", "header", "footer", "section", "div",
    "h1", "h2", "p", "dl", "dt", "dd", "ul", "li", "span", "strong", "code", "time", "br", "a", "table", "thead",
    "tbody", "tr", "th", "td", "figure", "figcaption", "svg", "g", "rect", "text", "line", "circle", "path", "script",
  ]);

  it("lets no string from the snapshot become markup", () => {
    const all = tags(page);
    expect(all.length).toBeGreaterThan(100);
    expect(all.filter((t) => !ALLOWED_TAGS.has(t.name)).map((t) => t.name)).toEqual([]);
    expect(all.filter((t) => t.name === "script")).toHaveLength(1);
    expect(all.filter((t) => t.name === "style")).toHaveLength(1);
    expect(all.flatMap((t) => Object.keys(t.attrs)).filter((a) => a.startsWith("on"))).toEqual([]);
    expect((page.match(/<\/svg>/g) ?? []).length).toBe(tags(page, "svg").length);
    expect((page.match(/<\/style>/g) ?? []).length).toBe(1);
  });

  it("still shows the hostile text, escaped", () => {
    expect(page).toContain("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&gt;&lt;img src=x onerror=alert(2)&gt;");
    expect(unescape(elementById(page, "failures"))).toContain(`corrupt_zip: ${PAYLOAD}.zip`);
  });

  it("keeps hostile object names inside percent-encoded links", () => {
    const hrefs = tags(page, "a").map((a) => a.attrs.href!);
    expect(hrefs.length).toBeGreaterThan(3);
    for (const href of hrefs) expect(href).toMatch(/^\/(objects\/[^"<>' ]+|api\/status)$/);
  });
});

describe("content security policy", () => {
  const page = renderDashboard(sampleStatusSnapshot());
  const sha = (text: string): string => createHash("sha256").update(text, "utf8").digest("base64");

  it("allows exactly the page's inline script and stylesheet by hash", () => {
    const script = /<script>([\s\S]*?)<\/script>/.exec(page)![1]!;
    const style = /<style>([\s\S]*?)<\/style>/.exec(page)![1]!;
    expect(DASHBOARD_CSP).toContain(`script-src 'sha256-${sha(script)}'`);
    expect(DASHBOARD_CSP).toContain(`style-src 'sha256-${sha(style)}'`);
    expect(DASHBOARD_CSP).toContain("default-src 'none'");
  });

  it("uses no inline style or event attributes, which the policy would block", () => {
    const attrs = tags(page).flatMap((t) => Object.keys(t.attrs));
    expect(attrs).not.toContain("style");
    expect(attrs.filter((a) => a.startsWith("on"))).toEqual([]);
  });
});
