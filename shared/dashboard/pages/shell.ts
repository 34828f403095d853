/** The frame of the dashboard's detail pages: same stylesheet and CSP as the main page, no script. */
import { DASHBOARD_CSS } from "../assets.ts";
import { html, raw, type HtmlValue } from "../html.ts";

export interface PageOptions {
  basePath: string;
  /** Product name (header, tab title). */
  product: string;
  objectLink: (uri: string) => string | null;
}

export function pageShell(options: PageOptions, title: string, body: HtmlValue): string {
  const b = options.basePath;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${title} · ${options.product}</title>
<link rel="icon" href="data:,">
<style>${raw(DASHBOARD_CSS)}</style>
</head>
<body>
<nav class="top" aria-label="Dashboard"><a href="${b}/">${options.product}</a> <a href="${b}/items">Items</a> <a href="${b}/queue">Queue</a></nav>
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>
`.value;
}

/** A browser link for an object, or null (a URI the link builder refuses shows no picture). */
export function imageSrc(options: PageOptions, uri: string | undefined): string | null {
  if (!uri) return null;
  try {
    return options.objectLink(uri);
  } catch {
    return null;
  }
}
