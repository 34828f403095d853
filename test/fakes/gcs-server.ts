import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A fake of the Cloud Storage JSON API on node:http, implementing exactly the routes
 * `@google-cloud/storage@7` uses when `apiEndpoint`/`STORAGE_EMULATOR_HOST` points at it:
 *
 *   POST   /upload/storage/v1/b/:bucket/o?uploadType=multipart        (file.save, resumable:false)
 *   POST   /upload/storage/v1/b/:bucket/o?uploadType=resumable        (starts a session → Location)
 *   PUT    /upload/storage/v1/b/:bucket/o?uploadType=resumable&upload_id=…   (the bytes)
 *   GET    [/storage/v1]/b/:bucket/o/:object                          (metadata)
 *   GET    [/storage/v1]/b/:bucket/o/:object?alt=media                (download, x-goog-hash; `Range`)
 *   GET    [/storage/v1]/b/:bucket/o?prefix=&pageToken=&maxResults=   (list)
 *   DELETE [/storage/v1]/b/:bucket/o/:object
 *   POST   [/storage/v1]/b/:bucket/o/:object/rewriteTo/b/:bucket/o/:object   (file.copy; done in one
 *          call, as GCS does for objects in the same location and storage class:
 *          https://cloud.google.com/storage/docs/json_api/v1/objects/rewrite)
 *
 * The client verifies `md5Hash`/`crc32c` after an upload (and deletes + throws on a mismatch) and
 * `x-goog-hash` after a download, so both are computed for real. `ifGenerationMatch=0` gives 412
 * when the object exists. Buckets spring into existence on first write.
 *
 * Media downloads honour a `Range: bytes=a-b` / `bytes=a-` / `bytes=-n` header as the JSON API
 * does for "download a portion of an object" (https://cloud.google.com/storage/docs/downloading-objects#download-object-portion,
 * RFC 9110 §14): 206 with `Content-Range: bytes a-b/size` and the bytes a..b inclusive, clamped to
 * the object's end; 416 when the range starts at or past the end. `@google-cloud/storage@7` sends
 * `Range: bytes=${start}-${end}` from `download({ start, end })` with `end` inclusive (src/file.ts,
 * createReadStream) and skips its hash check for ranges.
 */

export interface FakeObject {
  bucket: string;
  name: string;
  data: Buffer;
  generation: string;
  metageneration: string;
  contentType: string | undefined;
  md5Hash: string;
  crc32c: string;
  timeCreated: string;
  updated: string;
  metadata: Record<string, string> | undefined;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** The `Range` header of a media download, if any. */
  range?: string;
}

export interface GcsFake {
  /** `http://127.0.0.1:<port>`: pass as `apiEndpoint` or `STORAGE_EMULATOR_HOST`. */
  readonly endpoint: string;
  readonly requests: RecordedRequest[];
  objects(): FakeObject[];
  getObject(bucket: string, name: string): FakeObject | undefined;
  /** Stores an object directly (no HTTP) and fires onFinalize, as an upload would. */
  putObject(bucket: string, name: string, data: Uint8Array | string, contentType?: string): FakeObject;
  /** The next `count` requests answer `status` (to exercise retries and error mapping). */
  failNext(count: number, status: number): void;
  /** Called after every finalized write: the test forwards it as an Eventarc event. */
  onFinalize: ((object: FakeObject) => void) | null;
  /** The StorageObjectData JSON (int64 fields as strings) Eventarc would send for an object. */
  storageObjectData(object: FakeObject): Record<string, unknown>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as GCS reports it: big-endian, base64.

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC32C_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export function crc32cBase64(data: Uint8Array): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32c(data));
  return out.toString("base64");
}

// ---------------------------------------------------------------------------------------------

interface UploadSession {
  bucket: string;
  name: string;
  contentType: string | undefined;
  metadata: Record<string, string> | undefined;
  ifGenerationMatch: string | undefined;
  chunks: Buffer[];
}

export async function startGcsFake(): Promise<GcsFake> {
  const store = new Map<string, FakeObject>();
  const sessions = new Map<string, UploadSession>();
  const requests: RecordedRequest[] = [];
  let failures: { count: number; status: number } = { count: 0, status: 500 };
  let lastGeneration = BigInt(Date.now()) * 1000n;
  let endpoint = "";

  const key = (bucket: string, name: string) => `${bucket}/${name}`;
  const nextGeneration = () => {
    const now = BigInt(Date.now()) * 1000n;
    lastGeneration = now > lastGeneration ? now : lastGeneration + 1n;
    return lastGeneration.toString();
  };

  const fake: GcsFake = {
    get endpoint() {
      return endpoint;
    },
    requests,
    objects: () => [...store.values()],
    getObject: (bucket, name) => store.get(key(bucket, name)),
    putObject: (bucket, name, data, contentType) => finalize(bucket, name, Buffer.from(data), contentType, undefined),
    failNext(count, status) {
      failures = { count, status };
    },
    onFinalize: null,
    storageObjectData: (o) => resourceOf(o),
    // Clients keep connections alive (the storage client pools them); close them too, or close() waits for them.
    close: () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };

  function finalize(bucket: string, name: string, data: Buffer, contentType: string | undefined, metadata: Record<string, string> | undefined): FakeObject {
    const now = new Date().toISOString();
    const existing = store.get(key(bucket, name));
    const object: FakeObject = {
      bucket,
      name,
      data,
      generation: nextGeneration(),
      metageneration: "1",
      contentType: contentType ?? "application/octet-stream",
      md5Hash: createHash("md5").update(data).digest("base64"),
      crc32c: crc32cBase64(data),
      timeCreated: existing?.timeCreated ?? now,
      updated: now,
      metadata,
    };
    store.set(key(bucket, name), object);
    fake.onFinalize?.(object);
    return object;
  }

  function resourceOf(o: FakeObject): Record<string, unknown> {
    const encoded = encodeURIComponent(o.name);
    return {
      kind: "storage#object",
      id: `${o.bucket}/${o.name}/${o.generation}`,
      selfLink: `${endpoint}/storage/v1/b/${o.bucket}/o/${encoded}`,
      mediaLink: `${endpoint}/download/storage/v1/b/${o.bucket}/o/${encoded}?generation=${o.generation}&alt=media`,
      name: o.name,
      bucket: o.bucket,
      generation: o.generation,
      metageneration: o.metageneration,
      contentType: o.contentType,
      storageClass: "STANDARD",
      size: String(o.data.length),
      md5Hash: o.md5Hash,
      crc32c: o.crc32c,
      etag: `${o.generation}`,
      timeCreated: o.timeCreated,
      updated: o.updated,
      ...(o.metadata ? { metadata: o.metadata } : {}),
    };
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => sendJson(res, 500, { error: { code: 500, message: String(err) } }));
  });
  // Google's front end keeps an idle client connection open for 610 s ("HTTP keepalive timeout",
  // Cloud Load Balancing timeouts documentation); Node's default of 5 s made the client reuse a
  // socket the fake was closing, an EPIPE the real service does not cause at that rate.
  server.keepAliveTimeout = 610_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    const query = Object.fromEntries(url.searchParams.entries());
    const method = req.method ?? "GET";
    requests.push({ method, path: url.pathname, query, ...(req.headers.range ? { range: req.headers.range } : {}) });
    const body = await readBody(req);

    if (failures.count > 0) {
      failures.count--;
      return sendJson(res, failures.status, { error: { code: failures.status, message: "injected failure" } });
    }

    const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    if (upload) {
      const bucket = decodeURIComponent(upload[1]!);
      if (method === "POST" && query.uploadType === "multipart") return multipart(req, res, bucket, query, body);
      if (method === "POST" && query.uploadType === "resumable") return startResumable(req, res, bucket, query, body);
      if (method === "PUT" && query.upload_id) return resumableBytes(req, res, query.upload_id, body);
      return sendJson(res, 400, { error: { code: 400, message: `unsupported upload ${method} ${url.search}` } });
    }

    const path = url.pathname.replace(/^\/storage\/v1/, "");
    const rewrite = /^\/b\/([^/]+)\/o\/(.+)\/rewriteTo\/b\/([^/]+)\/o\/(.+)$/.exec(path);
    if (rewrite && method === "POST") {
      const source = store.get(key(decodeURIComponent(rewrite[1]!), decodeURIComponent(rewrite[2]!)));
      if (!source) return notFound(res, decodeURIComponent(rewrite[1]!), decodeURIComponent(rewrite[2]!));
      const [bucket, name] = [decodeURIComponent(rewrite[3]!), decodeURIComponent(rewrite[4]!)];
      if (preconditionFails(bucket, name, query.ifGenerationMatch)) return preconditionFailed(res);
      const copied = finalize(bucket, name, source.data, source.contentType, source.metadata);
      const size = String(copied.data.length);
      return sendJson(res, 200, { kind: "storage#rewriteResponse", totalBytesRewritten: size, objectSize: size, done: true, resource: resourceOf(copied) });
    }
    const object = /^\/b\/([^/]+)\/o\/(.+)$/.exec(path);
    if (object) {
      const bucket = decodeURIComponent(object[1]!);
      const name = decodeURIComponent(object[2]!);
      const found = store.get(key(bucket, name));
      if (method === "DELETE") {
        if (!found) return notFound(res, bucket, name);
        store.delete(key(bucket, name));
        res.writeHead(204).end();
        return;
      }
      if (method === "GET") {
        if (!found) return notFound(res, bucket, name);
        if (query.alt === "media") {
          const range = req.headers.range;
          if (range !== undefined) return sendRange(res, found, range);
          res.writeHead(200, {
            "content-type": found.contentType ?? "application/octet-stream",
            "content-length": String(found.data.length),
            "x-goog-hash": `crc32c=${found.crc32c},md5=${found.md5Hash}`,
            "x-goog-generation": found.generation,
            "x-goog-stored-content-encoding": "identity",
          });
          res.end(found.data);
          return;
        }
        return sendJson(res, 200, resourceOf(found));
      }
    }

    const list = /^\/b\/([^/]+)\/o$/.exec(path);
    if (list && method === "GET") {
      const bucket = decodeURIComponent(list[1]!);
      const prefix = query.prefix ?? "";
      const maxResults = Math.max(1, Math.min(1000, Number(query.maxResults ?? 1000)));
      const all = [...store.values()]
        .filter((o) => o.bucket === bucket && o.name.startsWith(prefix))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const start = query.pageToken ? all.findIndex((o) => o.name > Buffer.from(query.pageToken!, "base64url").toString()) : 0;
      const page = start < 0 ? [] : all.slice(start, start + maxResults);
      const more = start >= 0 && start + maxResults < all.length;
      return sendJson(res, 200, {
        kind: "storage#objects",
        items: page.map(resourceOf),
        ...(more ? { nextPageToken: Buffer.from(page[page.length - 1]!.name).toString("base64url") } : {}),
      });
    }

    sendJson(res, 404, { error: { code: 404, message: `no route for ${method} ${url.pathname}` } });
  }

  function preconditionFails(bucket: string, name: string, ifGenerationMatch: string | undefined): boolean {
    if (ifGenerationMatch === undefined) return false;
    const existing = store.get(key(bucket, name));
    // ifGenerationMatch=0 means "only if absent"; any other value must equal the live generation.
    return ifGenerationMatch === "0" ? existing !== undefined : existing?.generation !== ifGenerationMatch;
  }

  function multipart(req: IncomingMessage, res: ServerResponse, bucket: string, query: Record<string, string>, body: Buffer): void {
    const boundary = /boundary="?([^";]+)"?/.exec(req.headers["content-type"] ?? "")?.[1];
    if (!boundary) return sendJson(res, 400, { error: { code: 400, message: "multipart upload without boundary" } });
    const parts = splitMultipart(body, boundary);
    const [metaPart, mediaPart] = parts;
    if (!metaPart || !mediaPart) return sendJson(res, 400, { error: { code: 400, message: "expected metadata and media parts" } });
    const meta = JSON.parse(metaPart.body.toString("utf8")) as { name?: string; contentType?: string; metadata?: Record<string, string> };
    const name = query.name ?? meta.name;
    if (!name) return sendJson(res, 400, { error: { code: 400, message: "object name missing" } });
    if (preconditionFails(bucket, name, query.ifGenerationMatch)) return preconditionFailed(res);
    const contentType = meta.contentType ?? mediaPart.headers["content-type"];
    sendJson(res, 200, resourceOf(finalize(bucket, name, mediaPart.body, contentType, meta.metadata)));
  }

  function startResumable(req: IncomingMessage, res: ServerResponse, bucket: string, query: Record<string, string>, body: Buffer): void {
    const meta = body.length ? (JSON.parse(body.toString("utf8")) as { name?: string; contentType?: string; metadata?: Record<string, string> }) : {};
    const name = query.name ?? meta.name;
    if (!name) return sendJson(res, 400, { error: { code: 400, message: "object name missing" } });
    if (preconditionFails(bucket, name, query.ifGenerationMatch)) return preconditionFailed(res);
    const id = randomBytes(12).toString("hex");
    sessions.set(id, {
      bucket,
      name,
      contentType: meta.contentType ?? (req.headers["x-upload-content-type"] as string | undefined),
      metadata: meta.metadata,
      ifGenerationMatch: query.ifGenerationMatch,
      chunks: [],
    });
    res.writeHead(200, { location: `${endpoint}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&upload_id=${id}` });
    res.end();
  }

  function resumableBytes(req: IncomingMessage, res: ServerResponse, id: string, body: Buffer): void {
    const session = sessions.get(id);
    if (!session) return sendJson(res, 404, { error: { code: 404, message: "no such upload session" } });
    const range = req.headers["content-range"] ?? "";
    session.chunks.push(body);
    const received = session.chunks.reduce((n, c) => n + c.length, 0);
    // `bytes 0-*/<total|*>`: the whole rest of the object in this one request (the client's default).
    // `bytes a-b/*`: one chunk of a chunked upload, more to come. `bytes a-b/N`: done once N arrived.
    const m = /^bytes (?:(\d+)-(\d+|\*)|\*)\/(\d+|\*)$/.exec(range);
    const singleRequest = m?.[2] === "*";
    const total = m?.[3];
    const complete = singleRequest || (total !== undefined && total !== "*" && Number(total) === received);
    if (!complete) {
      res.writeHead(308, received > 0 ? { range: `bytes=0-${received - 1}` } : {});
      res.end();
      return;
    }
    sessions.delete(id);
    if (preconditionFails(session.bucket, session.name, session.ifGenerationMatch)) return preconditionFailed(res);
    sendJson(res, 200, resourceOf(finalize(session.bucket, session.name, Buffer.concat(session.chunks), session.contentType, session.metadata)));
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

/** A ranged media download: 206 with the slice, or 416 when nothing of the object is in range. */
function sendRange(res: ServerResponse, object: FakeObject, header: string): void {
  const size = object.data.length;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) {
    // A malformed Range is ignored (RFC 9110 §14.2): the whole object, 200.
    res.writeHead(200, { "content-type": object.contentType ?? "application/octet-stream", "content-length": String(size) });
    res.end(object.data);
    return;
  }
  // `bytes=-n` is the last n bytes; otherwise `bytes=a-` or `bytes=a-b`, b inclusive and clamped.
  const start = m[1] === "" ? Math.max(0, size - Number(m[2])) : Number(m[1]);
  const end = m[1] === "" || m[2] === "" ? size - 1 : Math.min(size - 1, Number(m[2]));
  if (start >= size || end < start) {
    const message = "The requested range cannot be satisfied.";
    res.writeHead(416, { "content-type": "application/json; charset=UTF-8", "content-range": `bytes */${size}` });
    res.end(JSON.stringify({ error: { code: 416, message, errors: [{ domain: "global", reason: "requestedRangeNotSatisfiable", message }] } }));
    return;
  }
  res.writeHead(206, {
    "content-type": object.contentType ?? "application/octet-stream",
    "content-length": String(end - start + 1),
    "content-range": `bytes ${start}-${end}/${size}`,
    // GCS sends the whole object's hashes with a partial response; clients must not check a slice against them.
    "x-goog-hash": `crc32c=${object.crc32c},md5=${object.md5Hash}`,
    "x-goog-generation": object.generation,
    "x-goog-stored-content-encoding": "identity",
  });
  res.end(object.data.subarray(start, end + 1));
}

function notFound(res: ServerResponse, bucket: string, name: string): void {
  const message = `No such object: ${bucket}/${name}`;
  sendJson(res, 404, { error: { code: 404, message, errors: [{ domain: "global", reason: "notFound", message }] } });
}

function preconditionFailed(res: ServerResponse): void {
  const message = "At least one of the pre-conditions you specified did not hold.";
  sendJson(res, 412, { error: { code: 412, message, errors: [{ domain: "global", reason: "conditionNotMet", message }] } });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=UTF-8", "content-length": String(Buffer.byteLength(text)) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

interface Part {
  headers: Record<string, string>;
  body: Buffer;
}

/** Splits a multipart/related body into its parts (headers lower-cased). */
function splitMultipart(body: Buffer, boundary: string): Part[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Part[] = [];
  let start = body.indexOf(delimiter);
  while (start !== -1) {
    const afterDelimiter = start + delimiter.length;
    if (body.subarray(afterDelimiter, afterDelimiter + 2).toString() === "--") break;
    const next = body.indexOf(delimiter, afterDelimiter);
    if (next === -1) break;
    // Part content sits between the CRLF after the delimiter and the CRLF before the next one.
    const raw = body.subarray(afterDelimiter + 2, next - 2);
    const headerEnd = raw.indexOf("\r\n\r\n");
    const headerText = headerEnd === -1 ? "" : raw.subarray(0, headerEnd).toString("utf8");
    const headers: Record<string, string> = {};
    for (const line of headerText.split("\r\n")) {
      const i = line.indexOf(":");
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    parts.push({ headers, body: headerEnd === -1 ? raw : raw.subarray(headerEnd + 4) });
    start = next;
  }
  return parts;
}
