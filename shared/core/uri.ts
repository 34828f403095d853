/** `gs://bucket/name` helpers. Both runtimes address objects this way. */
export interface ObjectAddress {
  bucket: string;
  name: string;
}

const URI = /^gs:\/\/([a-z0-9][a-z0-9._-]{0,220})\/(.*)$/;

export function parseObjectUri(uri: string): ObjectAddress {
  const m = URI.exec(uri);
  if (!m) throw new Error(`not an object URI (gs://bucket/name): ${uri}`);
  return { bucket: m[1]!, name: m[2]! };
}

export function objectUri(bucket: string, name: string): string {
  return `gs://${bucket}/${name.replace(/^\/+/, "")}`;
}

/** Joins a prefix URI (with or without a trailing slash) and a relative name. */
export function joinUri(prefix: string, ...parts: string[]): string {
  const base = prefix.endsWith("/") ? prefix : `${prefix}/`;
  return base + parts.map((p) => p.replace(/^\/+|\/+$/g, "")).filter(Boolean).join("/");
}

export function baseName(name: string): string {
  const i = name.lastIndexOf("/");
  return i === -1 ? name : name.slice(i + 1);
}

/** File stem without the last extension: `a/b/S2_T31.zip` → `S2_T31`. */
export function stem(name: string): string {
  const b = baseName(name);
  const i = b.lastIndexOf(".");
  return i <= 0 ? b : b.slice(0, i);
}
