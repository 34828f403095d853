/**
 * Tiny readers for the markup the dashboard produces, so tests assert on attributes rather than on
 * whole strings. They rely on a property the renderer guarantees (and html.test.ts checks): text
 * and attribute values never contain a raw `<`, `>` or `"`.
 */
export interface Tag {
  name: string;
  attrs: Record<string, string>;
  /** Offset of the tag in the document. */
  at: number;
}

export function tags(markup: string, name?: string): Tag[] {
  const out: Tag[] = [];
  for (const m of markup.matchAll(/<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s=>/]+(?:="[^"]*")?)*)\s*\/?>/g)) {
    const tagName = m[1]!.toLowerCase();
    if (name && tagName !== name) continue;
    const attrs: Record<string, string> = {};
    for (const a of m[2]!.matchAll(/\s+([^\s=>/]+)(?:="([^"]*)")?/g)) attrs[a[1]!.toLowerCase()] = a[2] ?? "";
    out.push({ name: tagName, attrs, at: m.index });
  }
  return out;
}

export function num(tag: Tag, attr: string): number {
  const value = tag.attrs[attr];
  if (value === undefined) throw new Error(`<${tag.name}> has no ${attr}`);
  return Number(value);
}

/** The inner markup of the first element with the given id (elements of that kind must not nest). */
export function elementById(markup: string, id: string): string {
  const open = new RegExp(`<([a-z0-9]+)[^>]*\\sid="${id}"[^>]*>`).exec(markup);
  if (!open) throw new Error(`no element with id ${id}`);
  const close = markup.indexOf(`</${open[1]}>`, open.index);
  return markup.slice(open.index + open[0].length, close);
}

/** Decodes the five entities the renderer emits. */
export function unescape(text: string): string {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, "&");
}
