/**
 * The page's only inline code: one stylesheet and one refresh script, both constants. Because they
 * never contain snapshot data, their SHA-256 hashes are fixed, and the Content-Security-Policy can
 * allow exactly these two blocks and nothing else (no nonce plumbing, and the page render stays a
 * pure function of the snapshot).
 */
import { createHash } from "node:crypto";

export const DASHBOARD_CSS = `
:root{--bg:#f7f7f5;--panel:#fff;--fg:#1d232a;--muted:#68717a;--line:#dde1e5;--accent:#2f6fb3;--ok:#2e8540;--bad:#c0392b;--warn:#b7791f;--info:#2f6fb3;--reached:#a9c7e8;--now:#2f6fb3;--accepted:#3b9a57;--rejected:#d0654f;--candidate:#2f6fb3;--champion:#9aa5b1}
@media (prefers-color-scheme:dark){:root{--bg:#14181c;--panel:#1c2228;--fg:#e3e7eb;--muted:#98a2ad;--line:#2e363e;--accent:#6aa5e6;--ok:#5cb874;--bad:#e8705e;--warn:#e0a84a;--info:#6aa5e6;--reached:#34506e;--now:#6aa5e6;--accepted:#4fb36c;--rejected:#e07a63;--candidate:#6aa5e6;--champion:#6b7682}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1280px;margin:0 auto;padding:16px 20px 48px}
h1{font-size:22px;margin:0}
h2{font-size:17px;margin:0 0 10px}
h2.small{font-size:14px;margin:0 0 6px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
section,.overview{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:14px 16px;margin:0 0 16px}
.title-row{display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 16px}
.generated,.note,.muted,figcaption{color:var(--muted)}
.note{margin:-4px 0 10px;font-size:13px}
.counts{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}
.count{border:1px solid var(--line);border-radius:6px;padding:6px 14px;min-width:120px}
.count dt{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.count dd{margin:0;font-size:24px;font-weight:600;font-variant-numeric:tabular-nums}
.count[data-count=failed] dd{color:var(--bad)}
.header-grid{display:grid;grid-template-columns:minmax(260px,1fr) minmax(300px,2fr);gap:16px}
@media (max-width:800px){.header-grid{grid-template-columns:1fr}}
ul{margin:0;padding-left:0;list-style:none}
.aliases li,.reviews>li,.notifications li{padding:4px 0;border-bottom:1px solid var(--line)}
.reviews p{margin:2px 0}
.reasons{padding-left:18px;list-style:disc;color:var(--muted)}
code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.command{background:var(--bg);border:1px solid var(--line);border-radius:4px;padding:1px 6px;user-select:all}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;border:1px solid currentColor}
.badge.ok{color:var(--ok)}.badge.bad{color:var(--bad)}.badge.warn{color:var(--warn)}.badge.info{color:var(--info)}.badge.muted,.badge.neutral{color:var(--muted)}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.03em}
table.numeric td+td,.metric-value{font-variant-numeric:tabular-nums}
.error-text,.reason{color:var(--bad)}
.reason{white-space:pre-wrap;word-break:break-word}
.empty{color:var(--muted);font-style:italic;margin:6px 0}
a{color:var(--accent)}
svg.chart{width:100%;height:auto;display:block;margin:6px 0}
svg.funnel,svg.per-class{max-width:900px}
.chart text{fill:var(--fg);font-size:12px}
.chart text.tick,.chart .axis-title{fill:var(--muted);font-size:11px}
.chart .grid{stroke:var(--line)}.chart .axis{stroke:var(--muted)}
.bar.reached{fill:var(--reached)}.bar.now{fill:var(--now)}.bar.state-failed.now,.bar.state-rejected.now{fill:var(--bad)}
.bar.accepted{fill:var(--accepted)}.bar.rejected{fill:var(--rejected)}
.bar.candidate{fill:var(--candidate)}.bar.champion{fill:var(--champion)}
.chart .line{fill:none;stroke:var(--muted);stroke-width:1.5}
.point.promoted{fill:var(--ok);stroke:var(--panel);stroke-width:2}.point.evaluated{fill:var(--panel);stroke:var(--muted);stroke-width:2}
.chart .point-label{font-size:11px;font-weight:600;fill:var(--ok)}
figure{margin:12px 0 0}figcaption{font-size:12px}
.refresh{position:fixed;right:10px;bottom:8px;font-size:12px;color:var(--muted);background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:2px 10px}
.refresh.bad{color:var(--bad)}
.refresh:empty{display:none}
footer{max-width:1280px;margin:0 auto;padding:0 20px 32px;color:var(--muted);font-size:12px}
a:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
nav.top{max-width:1280px;margin:0 auto;padding:10px 20px 0;display:flex;gap:16px}
nav.top a:first-child{font-weight:600}
.filters ul{display:flex;flex-wrap:wrap;gap:6px 14px;margin:0 0 10px}
.filters a[aria-current=page]{font-weight:700;text-decoration:none;color:var(--fg)}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:12px}
.card{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:10px}
.card-title{font-weight:600;word-break:break-all}
.thumbs{display:flex;flex-wrap:wrap;gap:6px;margin-top:8px}
.thumb{margin:0;text-align:center}
.thumb img{display:block;object-fit:contain;background:#000;border:1px solid var(--line);image-rendering:pixelated}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:0 0 8px}
.facts dt{color:var(--muted)}.facts dd{margin:0}
svg.overlay{width:100%;max-width:640px;height:auto;display:block;background:#000}
.swatch{vertical-align:middle}
.heatmaps{display:flex;flex-wrap:wrap;gap:16px}
.curve-charts{display:flex;flex-wrap:wrap;gap:16px}svg.curves{max-width:560px}
.curves .curve{fill:none;stroke-width:2}.curves .dashed .curve{stroke-dasharray:6 4}.curves .dashed .dot{fill:var(--panel);stroke-width:1.5}
.series.s0 .curve,.series.s0 .dot{stroke:var(--candidate)}.series.s0 .dot{fill:var(--candidate)}
.series.s1 .curve,.series.s1 .dot{stroke:var(--warn)}.series.s1 .dot{fill:var(--warn)}
.curves .dashed .dot{fill:var(--panel)}
.triplets{grid-template-columns:repeat(auto-fill,minmax(440px,1fr))}
h3{font-size:15px;margin:14px 0 6px}h4{font-size:13px;margin:8px 0 6px;color:var(--muted)}
svg.heatmap{max-width:100%;height:auto}
.heatmap text.cell{fill:#1d232a;font-size:11px}.heatmap text.cell-dark{fill:#fff;font-size:11px}
.badge.state-failed,.badge.state-rejected{color:var(--bad)}.badge.state-in_dataset,.badge.state-accepted{color:var(--ok)}
`;

/**
 * Re-fetches this same page and swaps its <main> in place (the server renders; the browser only
 * replaces). Robust by construction: a failed fetch keeps the old content, says so, and backs off;
 * hidden tabs do not poll; one refresh at a time.
 */
export const REFRESH_SCRIPT = `
(function () {
  "use strict";
  var seconds = Number(document.body.getAttribute("data-refresh-seconds"));
  var status = document.getElementById("refresh-status");
  if (!(seconds > 0) || !window.fetch || !window.DOMParser) return;
  var failures = 0, timer = 0, busy = false;
  function say(text, bad) {
    if (!status) return;
    status.textContent = text;
    status.className = bad ? "refresh bad" : "refresh";
  }
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, seconds * 1000 * Math.pow(2, Math.min(failures, 4)));
  }
  function refresh() {
    if (busy) return;
    if (document.visibilityState === "hidden") return;
    busy = true;
    fetch(window.location.href, { cache: "no-store", credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (res) {
        if (!res.ok) throw new Error("HTTP " + res.status);
        return res.text();
      })
      .then(function (text) {
        var next = new DOMParser().parseFromString(text, "text/html").querySelector("main");
        var current = document.querySelector("main");
        if (!next || !current) throw new Error("unexpected page");
        current.replaceWith(document.importNode(next, true));
        failures = 0;
        say("live, refreshed " + new Date().toLocaleTimeString(), false);
      })
      .catch(function (err) {
        failures += 1;
        say("refresh failed (" + (err && err.message ? err.message : "error") + "), showing older data", true);
      })
      .then(function () {
        busy = false;
        schedule();
      });
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") refresh();
  });
  say("live, every " + seconds + " s", false);
  schedule();
})();
`;

function sha256Base64(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("base64");
}

/**
 * Allows the two inline blocks above by hash, same-origin fetches for the refresh, and nothing
 * else: no external scripts, frames, forms, plugins or <base> tricks.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src 'sha256-${sha256Base64(REFRESH_SCRIPT)}'`,
  `style-src 'sha256-${sha256Base64(DASHBOARD_CSS)}'`,
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** For objects served through the dashboard: render nothing active, ever (a hostile upload may be HTML). */
export const OBJECT_CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox";
