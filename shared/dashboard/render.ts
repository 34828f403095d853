/**
 * The dashboard page: one self-contained HTML document (inline CSS, inline SVG, one small refresh
 * script) rendered from a `StatusSnapshot`. Pure: same snapshot and options, same bytes. Every
 * string from the snapshot goes through the escaping `html` template (see html.ts).
 */
import type { StatusSnapshot } from "../core/status/snapshot.ts";
import { DASHBOARD_CSS, REFRESH_SCRIPT } from "./assets.ts";
import { html, raw } from "./html.ts";
import { normaliseBasePath } from "./paths.ts";
import { buildContext } from "./sections/common.ts";
import { renderAliasHistory, renderFailures, renderNotifications } from "./sections/history.ts";
import { renderDatasets, renderEvaluations, renderLeaderboard, renderTrainingRuns } from "./sections/models.ts";
import { renderFunnel, renderHeader, renderThroughput } from "./sections/overview.ts";
import { renderDrift } from "./sections/drift.ts";

export const DEFAULT_DASHBOARD_TITLE = "MLOps loop";
export const DEFAULT_REFRESH_SECONDS = 30;

export interface RenderOptions {
  /** Product name in the header and the tab title. */
  title?: string;
  /** Where the dashboard is mounted (e.g. `/dashboard`); prefixes the page's own links. */
  basePath?: string;
  /** Seconds between live refreshes; 0 turns refreshing off. */
  refreshSeconds?: number;
  /** Browser link for a `gs://` URI (local: `/objects/…`; GCP: a signed URL), or null for text only. */
  objectLink?: (uri: string) => string | null;
  /** The server has the detail pages (`/items`, `/evaluations/<id>`): link them. */
  detailPages?: boolean;
}

/** Section ids in page order; tests and the refresh script rely on them. */
export const SECTION_IDS = [
  "overview",
  "funnel",
  "throughput",
  "drift",
  "datasets",
  "runs",
  "leaderboard",
  "evaluations",
  "alias-history",
  "failures",
  "notifications",
] as const;

export function renderDashboard(snapshot: StatusSnapshot, options: RenderOptions = {}): string {
  const title = options.title?.trim() || DEFAULT_DASHBOARD_TITLE;
  const basePath = normaliseBasePath(options.basePath);
  const refreshSeconds = Math.max(0, Math.floor(options.refreshSeconds ?? DEFAULT_REFRESH_SECONDS));
  const pageLink = (path: string) => (options.detailPages ? `${basePath}${path}` : null);
  const context = buildContext(snapshot, options.objectLink ?? (() => null), pageLink);
  const failedNow = snapshot.itemsByState.failed;
  const tabTitle = failedNow > 0 ? `${title} (${failedNow} failed)` : title;

  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${tabTitle}</title>
<link rel="icon" href="data:,">
${refreshSeconds > 0 ? html`<noscript><meta http-equiv="refresh" content="${refreshSeconds}"></noscript>` : ""}
<style>${raw(DASHBOARD_CSS)}</style>
</head>
<body data-refresh-seconds="${refreshSeconds}">
${options.detailPages ? html`<nav class="top" aria-label="Dashboard"><a href="${basePath}/">${title}</a> <a href="${basePath}/items">Items</a> <a href="${basePath}/queue">Queue</a></nav>` : ""}
<main>
${renderHeader(context, title)}
${renderFunnel(context)}
${renderThroughput(context)}
${renderDrift(context)}
${renderDatasets(context)}
${renderTrainingRuns(context)}
${renderLeaderboard(context)}
${renderEvaluations(context)}
${renderAliasHistory(context)}
${renderFailures(context)}
${renderNotifications(context)}
</main>
<footer>Snapshot as JSON: <a href="${basePath}/api/status">${basePath}/api/status</a></footer>
<div id="refresh-status" class="refresh" role="status" aria-live="polite"></div>
<script>${raw(REFRESH_SCRIPT)}</script>
</body>
</html>
`;
  return page.value;
}
