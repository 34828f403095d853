/**
 * Deterministic formatting for the dashboard. Times are shown in UTC (the page is rendered on a
 * server whose time zone says nothing about the reader's) and relative to the snapshot's
 * `generatedAt`, never to "now", so a page renders the same way every time.
 */
import { html, type SafeHtml } from "./html.ts";

function parseTime(value: string): Date | null {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** `2026-11-23 14:05 UTC`; an unparseable value is shown as it came. */
export function formatUtc(value: string): string {
  const date = parseTime(value);
  if (!date) return value;
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** `5 min ago`, `3 h ago`, `2 d ago` relative to `reference`; empty when either is unparseable. */
export function formatAgo(value: string, reference: string): string {
  const at = parseTime(value);
  const ref = parseTime(reference);
  if (!at || !ref) return "";
  const seconds = Math.round((ref.getTime() - at.getTime()) / 1000);
  if (seconds < 0) return "in the future";
  if (seconds < 60) return "just now";
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} d ago`;
}

/** A `<time>` element: absolute UTC time, with the relative age as a hover title. */
export function timeCell(value: string | null | undefined, reference: string): SafeHtml {
  if (!value) return html`<span class="muted">–</span>`;
  const ago = formatAgo(value, reference);
  return html`<time datetime="${value}"${ago ? html` title="${ago}"` : ""}>${formatUtc(value)}</time>`;
}

/**
 * An id short enough for a table cell. Content hashes (dataset versions) keep their prefix, as git
 * does; other ids keep both ends, because time-ordered ids (ULIDs) share their leading characters
 * and differ in the random tail.
 */
export function shortId(id: string, length = 12, keep: "prefix" | "ends" = "ends"): string {
  if (id.length <= length) return id;
  if (keep === "prefix") return id.slice(0, length);
  const tail = Math.max(3, Math.floor(length / 3));
  return `${id.slice(0, length - tail - 1)}…${id.slice(-tail)}`;
}

/** An id shortened for display, with the full id available on hover. */
export function idCell(id: string | null | undefined, length = 12, keep: "prefix" | "ends" = "ends"): SafeHtml {
  if (!id) return html`<span class="muted">–</span>`;
  return html`<code title="${id}">${shortId(id, length, keep)}</code>`;
}

/** Metrics are fractions in [0, 1] for every task we evaluate; four decimals show real changes. */
export function formatMetric(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return value.toFixed(4);
}

/** Signed difference, e.g. `+0.0123`; `–` when either side is missing. */
export function formatDelta(candidate: number | null, champion: number | null): string {
  if (candidate === null || champion === null || !Number.isFinite(candidate) || !Number.isFinite(champion)) return "–";
  const delta = candidate - champion;
  return `${delta >= 0 ? "+" : "−"}${Math.abs(delta).toFixed(4)}`;
}

export function formatCount(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "–";
}
