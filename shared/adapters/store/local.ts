import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { copyFile, mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import { pathToFileURL } from "node:url";
import { PermanentError } from "../../errors.ts";
import { objectUri, parseObjectUri } from "../../core/uri.ts";
import type { ObjectInfo, ObjectStore, PutOptions } from "../../ports.ts";
import { hashingStage } from "./hashing.ts";

/**
 * Object store on disk: `<root>/<bucket>/<name>`. Writes go to a temporary file and are renamed
 * into place, so a watcher never sees half an object. The generation is the file's mtime in
 * microseconds, as GCS generations are microsecond timestamps.
 */
export class LocalObjectStore implements ObjectStore {
  readonly root: string;
  /** Folders this process already created: `mkdir -p` costs a syscall per level otherwise. */
  private readonly folders = new Set<string>();
  constructor(root: string) {
    this.root = resolve(root);
  }

  pathOf(uri: string): string {
    const { bucket, name } = parseObjectUri(uri);
    const path = resolve(this.root, bucket, name);
    if (!path.startsWith(this.root + sep)) throw new PermanentError("bad_object_name", `object name escapes the store: ${uri}`);
    return path;
  }

  async get(uri: string): Promise<Buffer> {
    try {
      return await readFile(this.pathOf(uri));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new PermanentError("object_not_found", `no such object: ${uri}`);
      throw err;
    }
  }

  async readRange(uri: string, offset: number, length: number): Promise<Buffer> {
    if (!(Number.isSafeInteger(offset) && offset >= 0 && Number.isSafeInteger(length) && length >= 0)) {
      throw new RangeError(`readRange: offset ${offset} and length ${length} must be non-negative integers`);
    }
    let file;
    try {
      file = await open(this.pathOf(uri), "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new PermanentError("object_not_found", `no such object: ${uri}`);
      throw err;
    }
    try {
      // Never allocate more than the object holds past `offset`, whatever `length` asks for.
      const available = Math.max(0, Math.min(length, (await file.stat()).size - offset));
      const buffer = Buffer.allocUnsafe(available);
      let filled = 0;
      while (filled < available) {
        const { bytesRead } = await file.read(buffer, filled, available - filled, offset + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return filled === available ? buffer : buffer.subarray(0, filled);
    } finally {
      await file.close();
    }
  }

  async put(uri: string, body: Uint8Array | string, options: PutOptions = {}): Promise<ObjectInfo> {
    const path = this.pathOf(uri);
    if (options.ifAbsent) {
      const existing = await this.head(uri);
      if (existing) return existing;
    }
    await this.ensureFolder(dirname(path));
    const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.part`;
    try {
      await writeFile(tmp, body);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      // The folder was removed behind our back: forget it and create it again.
      this.folders.clear();
      await this.ensureFolder(dirname(path));
      await writeFile(tmp, body);
    }
    await rename(tmp, path);
    // The body is in memory: hash it here rather than reading the file back.
    const info = await this.infoOf(uri, path, false);
    return { ...info, md5Hash: createHash("md5").update(body).digest("base64") };
  }

  private async ensureFolder(dir: string): Promise<void> {
    if (this.folders.has(dir)) return;
    await mkdir(dir, { recursive: true });
    this.folders.add(dir);
  }

  async head(uri: string): Promise<ObjectInfo | null> {
    const path = this.pathOf(uri);
    try {
      // No MD5 here: it would read the whole file on every existence check.
      return await this.infoOf(uri, path, false);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
  }

  async list(prefixUri: string): Promise<ObjectInfo[]> {
    const { bucket, name: prefix } = parseObjectUri(prefixUri);
    const bucketDir = join(this.root, bucket);
    const out: ObjectInfo[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
        throw err;
      }
      for (const e of entries) {
        const full = join(dir, e.name);
        if (e.isDirectory()) await walk(full);
        else if (e.isFile() && !e.name.endsWith(".part")) {
          const name = relative(bucketDir, full).split(sep).join("/");
          if (name.startsWith(prefix)) out.push(await this.infoOf(objectUri(bucket, name), full, false));
        }
      }
    };
    await walk(bucketDir);
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async delete(uri: string): Promise<void> {
    await rm(this.pathOf(uri), { force: true });
  }

  async download(uri: string, localPath: string): Promise<void> {
    await mkdir(dirname(localPath), { recursive: true });
    try {
      await copyFile(this.pathOf(uri), localPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new PermanentError("object_not_found", `no such object: ${uri}`);
      throw err;
    }
  }

  async upload(localPath: string, uri: string, options: PutOptions = {}): Promise<ObjectInfo> {
    const path = this.pathOf(uri);
    if (options.ifAbsent) {
      const existing = await this.head(uri);
      if (existing) return existing;
    }
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.part`;
    await pipeline(createReadStream(localPath), createWriteStream(tmp));
    await rename(tmp, path);
    return this.infoOf(uri, path);
  }

  async *getStream(uri: string): AsyncIterable<Uint8Array> {
    const path = this.pathOf(uri);
    const handle = await open(path, "r").catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") throw new PermanentError("object_not_found", `no such object: ${uri}`);
      throw err;
    });
    try {
      for await (const chunk of handle.createReadStream({ highWaterMark: 1 << 20, autoClose: false })) yield chunk as Buffer;
    } finally {
      await handle.close();
    }
  }

  async putAddressed(source: AsyncIterable<Uint8Array>, uriFor: (sha256: string) => string, options: PutOptions = {}): Promise<{ info: ObjectInfo; sha256: string }> {
    // Staged inside the target bucket (same filesystem), so the final step is a rename.
    const { bucket } = parseObjectUri(uriFor("0".repeat(64)));
    const staging = join(this.root, bucket, ".staging");
    await this.ensureFolder(staging);
    const tmp = join(staging, `${process.pid}.${Math.random().toString(36).slice(2)}.part`);
    const hash = createHash("sha256");
    try {
      await pipeline(
        source,
        hashingStage(hash),
        createWriteStream(tmp),
      );
      const sha256 = hash.digest("hex");
      const uri = uriFor(sha256);
      const path = this.pathOf(uri);
      const existing = options.ifAbsent ? await this.head(uri) : null;
      if (existing) {
        await rm(tmp, { force: true });
        return { info: existing, sha256 };
      }
      await this.ensureFolder(dirname(path));
      await rename(tmp, path);
      return { info: await this.infoOf(uri, path, false), sha256 };
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async signedUrl(uri: string): Promise<string> {
    // Locally the "signed URL" is the file itself; the dashboard serves objects under /objects/.
    return pathToFileURL(this.pathOf(uri)).href;
  }

  /** Only writes report an MD5 locally (they have the bytes); listing and head skip it. */
  private async infoOf(uri: string, path: string, withMd5 = true): Promise<ObjectInfo> {
    const s = await stat(path, { bigint: true });
    const { bucket, name } = parseObjectUri(uri);
    return {
      uri,
      bucket,
      name,
      size: Number(s.size),
      generation: (s.mtimeNs / 1000n).toString(),
      contentType: contentTypeOf(name),
      md5Hash: withMd5 ? await md5Base64(path) : undefined,
      updated: new Date(Number(s.mtimeMs)).toISOString(),
    };
  }
}

async function md5Base64(path: string): Promise<string> {
  const hash = createHash("md5");
  await pipeline(createReadStream(path), hash);
  return hash.digest("base64");
}

const TYPES: Record<string, string> = {
  png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", tif: "image/tiff", tiff: "image/tiff", zip: "application/zip",
  json: "application/json", txt: "text/plain", onnx: "application/octet-stream", html: "text/html", svg: "image/svg+xml", md: "text/markdown",
};

export function contentTypeOf(name: string): string | undefined {
  const ext = name.slice(name.lastIndexOf(".") + 1).toLowerCase();
  return TYPES[ext];
}
