import { describe, expect, it } from "vitest";
import { escapeHtml, html, link, raw, safeHref } from "../../../shared/dashboard/html.ts";

describe("escapeHtml", () => {
  it("escapes the five characters that can open markup or close an attribute", () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe("&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;");
  });

  it("leaves ordinary text alone", () => {
    expect(escapeHtml("mIoU +0.0482 ≥ 0.01 (thin_cloud)")).toBe("mIoU +0.0482 ≥ 0.01 (thin_cloud)");
  });
});

describe("html template", () => {
  it("escapes interpolated strings and numbers but not nested templates", () => {
    const name = "<b>bold</b>";
    const inner = html`<i>${name}</i>`;
    expect(html`<p>${inner} ${42}</p>`.value).toBe("<p><i>&lt;b&gt;bold&lt;/b&gt;</i> 42</p>");
  });

  it("renders arrays element by element and drops null, undefined and booleans", () => {
    const items = ["a<", "b>"];
    expect(html`<ul>${items.map((i) => html`<li>${i}</li>`)}</ul>${null}${undefined}${false}${true}`.value).toBe(
      "<ul><li>a&lt;</li><li>b&gt;</li></ul>",
    );
  });

  it("passes raw constants through untouched", () => {
    expect(html`<style>${raw("a>b{}")}</style>`.value).toBe("<style>a>b{}</style>");
  });

  it("keeps a quote in an attribute value from closing the attribute", () => {
    const title = `x" onmouseover="alert(1)`;
    expect(html`<span title="${title}"></span>`.value).toBe('<span title="x&quot; onmouseover=&quot;alert(1)"></span>');
  });
});

describe("safeHref / link", () => {
  it("accepts http(s) URLs and server paths", () => {
    expect(safeHref("https://storage.googleapis.com/b/o?X-Goog-Signature=abc")).toBe("https://storage.googleapis.com/b/o?X-Goog-Signature=abc");
    expect(safeHref("/objects/b/o.json")).toBe("/objects/b/o.json");
  });

  it("refuses script, data and protocol-relative URLs", () => {
    for (const bad of ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<script>", "//evil.example/x", "/\\evil.example", "gs://b/o", ""]) {
      expect(safeHref(bad)).toBeNull();
    }
  });

  it("renders the label as plain text when the href is refused", () => {
    expect(link("javascript:alert(1)", "report").value).toBe("report");
    expect(link("/objects/b/r.json", "report", "gs://b/r.json").value).toBe(
      '<a href="/objects/b/r.json" rel="noopener noreferrer" title="gs://b/r.json">report</a>',
    );
  });
});
