/**
 * HTML building with escaping by construction. Every value interpolated into an `html` template is
 * escaped unless it is already `SafeHtml` (the output of another `html` template or of `raw`), so
 * a hostile file name or error message from the snapshot cannot become markup. `raw` exists only
 * for constants written in this folder (the stylesheet, the refresh script).
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** What a template accepts: strings/numbers are escaped, null/undefined/false render nothing. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escapes text for element content and double- or single-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

function renderValue(value: HtmlValue): string {
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map((v: HtmlValue) => renderValue(v)).join("");
  if (value === null || value === undefined || value === false) return "";
  if (value === true) return "";
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? "";
  for (let i = 0; i < values.length; i++) out += renderValue(values[i]) + (strings[i + 1] ?? "");
  return new SafeHtml(out);
}

/** Marks a constant written in this folder as markup. Never pass snapshot data here. */
export function raw(trustedConstant: string): SafeHtml {
  return new SafeHtml(trustedConstant);
}

/**
 * Only links we can vouch for become `href`s: absolute http(s) URLs (signed URLs) and paths on
 * this server. Anything else (`javascript:`, `data:`, protocol-relative `//host`) yields null and
 * the caller shows plain text instead.
 */
export function safeHref(url: string | null | undefined): string | null {
  if (!url) return null;
  if (/^https?:\/\//i.test(url)) return url;
  if (url.startsWith("/") && !url.startsWith("//") && !url.startsWith("/\\")) return url;
  return null;
}

/** A link when `href` is safe, otherwise the label as text. */
export function link(href: string | null | undefined, label: HtmlValue, title?: string): SafeHtml {
  const safe = safeHref(href);
  if (!safe) return html`${label}`;
  return html`<a href="${safe}" rel="noopener noreferrer"${title ? html` title="${title}"` : ""}>${label}</a>`;
}
