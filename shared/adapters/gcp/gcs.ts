import { createHash, randomBytes } from "node:crypto";
import { mkdir, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { pipeline } from "node:stream/promises";
import { Storage, type File, type FileMetadata } from "@google-cloud/storage";
import { PermanentError, TransientError } from "../../errors.ts";
import { objectUri, parseObjectUri } from "../../core/uri.ts";
import type { ObjectInfo, ObjectStore, PutOptions } from "../../ports.ts";
import { hashingStage } from "../store/hashing.ts";

/** Network failures worth a retry by the platform (the client already retried them itself). */
const TRANSIENT_CODES = new Set([
  "ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "ESOCKETTIMEDOUT", "EPIPE", "EAI_AGAIN", "ENOTFOUND", "ENETUNREACH",
  "EHOSTUNREACH", "ERR_STREAM_PREMATURE_CLOSE", "CONTENT_DOWNLOAD_MISMATCH", "FILE_NO_UPLOAD",
]);

/** Seven days is the longest a V4 signature may live. */
const MAX_SIGNED_URL_SECONDS = 7 * 24 * 3600;

export interface GcsObjectStoreOptions {
  /** A configured client; by default one honouring `STORAGE_EMULATOR_HOST` with bounded retries. */
  storage?: Storage;
  /** Files larger than this go through a resumable session instead of one multipart request. */
  resumableThresholdBytes?: number;
}

/**
 * ObjectStore on Cloud Storage (`@google-cloud/storage@7`). Objects are `gs://bucket/name` URIs, as
 * in the local store. Errors say what happens next: a missing object is a PermanentError
 * (`object_not_found`), 429/5xx and network failures are TransientErrors so the message is
 * redelivered. `ifAbsent` writes use `ifGenerationMatch: 0`; losing that race returns the existing
 * object's info, the same contract the local store keeps.
 */
export class GcsObjectStore implements ObjectStore {
  readonly storage: Storage;
  private readonly resumableThresholdBytes: number;

  constructor(options: GcsObjectStoreOptions = {}) {
    this.storage = options.storage ?? defaultStorage();
    this.resumableThresholdBytes = options.resumableThresholdBytes ?? 8 * 1024 * 1024;
  }

  private file(uri: string): File {
    const { bucket, name } = parseObjectUri(uri);
    if (!name) throw new PermanentError("bad_object_name", `object URI has no object name: ${uri}`);
    return this.storage.bucket(bucket).file(name);
  }

  async get(uri: string): Promise<Buffer> {
    try {
      const [contents] = await this.file(uri).download();
      return contents;
    } catch (err) {
      throw mapStorageError(err, uri, "download");
    }
  }

  /**
   * One media download with a `Range` header. `@google-cloud/storage` 7 takes `start`/`end` with
   * `end` inclusive (`start: 0, end: 999` is the first 1000 bytes; file.js, createReadStream), and
   * skips its CRC32C/MD5 check for ranges (it only has the whole object's hashes). GCS answers a
   * range that starts at or past the end with 416, which here is simply "no bytes".
   */
  async readRange(uri: string, offset: number, length: number): Promise<Buffer> {
    if (!(Number.isSafeInteger(offset) && offset >= 0 && Number.isSafeInteger(length) && length >= 0)) {
      throw new RangeError(`readRange: offset ${offset} and length ${length} must be non-negative integers`);
    }
    if (length === 0) return Buffer.alloc(0);
    try {
      const [contents] = await this.file(uri).download({ start: offset, end: offset + length - 1 });
      return contents;
    } catch (err) {
      if (statusOf(err) === 416) return Buffer.alloc(0);
      throw mapStorageError(err, uri, "download");
    }
  }

  async put(uri: string, body: Uint8Array | string, options: PutOptions = {}): Promise<ObjectInfo> {
    const file = this.file(uri);
    const data = typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    try {
      await file.save(data, {
        resumable: data.byteLength > this.resumableThresholdBytes,
        ...(options.contentType ? { contentType: options.contentType } : {}),
        ...(options.ifAbsent ? { preconditionOpts: { ifGenerationMatch: 0 } } : {}),
      });
      return infoOf(file.bucket.name, file.name, file.metadata);
    } catch (err) {
      if (options.ifAbsent && statusOf(err) === 412) return this.existing(uri);
      throw mapStorageError(err, uri, "upload");
    }
  }

  async head(uri: string): Promise<ObjectInfo | null> {
    const file = this.file(uri);
    try {
      const [metadata] = await file.getMetadata();
      return infoOf(file.bucket.name, file.name, metadata);
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw mapStorageError(err, uri, "read metadata of");
    }
  }

  async list(prefixUri: string): Promise<ObjectInfo[]> {
    const { bucket, name: prefix } = parseObjectUri(prefixUri);
    const out: ObjectInfo[] = [];
    let pageToken: string | undefined;
    try {
      do {
        const [files, next] = await this.storage
          .bucket(bucket)
          .getFiles({ prefix, autoPaginate: false, maxResults: 1000, ...(pageToken ? { pageToken } : {}) });
        for (const f of files) out.push(infoOf(bucket, f.name, f.metadata));
        pageToken = (next as { pageToken?: string } | null | undefined)?.pageToken;
      } while (pageToken);
    } catch (err) {
      throw mapStorageError(err, prefixUri, "list");
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async delete(uri: string): Promise<void> {
    try {
      await this.file(uri).delete({ ignoreNotFound: true });
    } catch (err) {
      throw mapStorageError(err, uri, "delete");
    }
  }

  async download(uri: string, localPath: string): Promise<void> {
    await mkdir(dirname(localPath), { recursive: true });
    try {
      // Streams to disk and checks the CRC32C/MD5 GCS sends in x-goog-hash.
      await this.file(uri).download({ destination: localPath });
    } catch (err) {
      throw mapStorageError(err, uri, "download");
    }
  }

  async upload(localPath: string, uri: string, options: PutOptions = {}): Promise<ObjectInfo> {
    const { bucket, name } = parseObjectUri(uri);
    const { size } = await stat(localPath);
    try {
      const [file] = await this.storage.bucket(bucket).upload(localPath, {
        destination: name,
        resumable: size > this.resumableThresholdBytes,
        ...(options.contentType ? { contentType: options.contentType } : {}),
        ...(options.ifAbsent ? { preconditionOpts: { ifGenerationMatch: 0 } } : {}),
      });
      return infoOf(bucket, file.name, file.metadata);
    } catch (err) {
      if (options.ifAbsent && statusOf(err) === 412) return this.existing(uri);
      throw mapStorageError(err, uri, "upload");
    }
  }

  async signedUrl(uri: string, options: { expiresInSeconds?: number } = {}): Promise<string> {
    const seconds = Math.min(Math.max(1, options.expiresInSeconds ?? 3600), MAX_SIGNED_URL_SECONDS);
    try {
      // Without a key file (Cloud Functions) the client signs through IAM signBlob, which needs
      // roles/iam.serviceAccountTokenCreator on the function's own service account.
      const [url] = await this.file(uri).getSignedUrl({ version: "v4", action: "read", expires: Date.now() + seconds * 1000 });
      return url;
    } catch (err) {
      throw mapStorageError(err, uri, "sign a URL for");
    }
  }

  async *getStream(uri: string): AsyncIterable<Uint8Array> {
    try {
      // The client checks the CRC32C/MD5 of the whole stream against x-goog-hash at the end.
      for await (const chunk of this.file(uri).createReadStream()) yield chunk as Buffer;
    } catch (err) {
      throw mapStorageError(err, uri, "download");
    }
  }

  async putAddressed(source: AsyncIterable<Uint8Array>, uriFor: (sha256: string) => string, options: PutOptions = {}): Promise<{ info: ObjectInfo; sha256: string }> {
    const { bucket } = parseObjectUri(uriFor("0".repeat(64)));
    const staging = this.storage.bucket(bucket).file(`.staging/${randomBytes(12).toString("hex")}`);
    const hash = createHash("sha256");
    try {
      await pipeline(
        source,
        hashingStage(hash),
        staging.createWriteStream({ resumable: true, ...(options.contentType ? { contentType: options.contentType } : {}) }),
      );
      const sha256 = hash.digest("hex");
      const uri = uriFor(sha256);
      const existing = options.ifAbsent ? await this.head(uri) : null;
      if (!existing) {
        // A server-side rewrite: the bytes do not travel again.
        await staging.copy(this.file(uri));
      }
      await staging.delete({ ignoreNotFound: true });
      return { info: existing ?? (await this.existing(uri)), sha256 };
    } catch (err) {
      await staging.delete({ ignoreNotFound: true }).catch(() => undefined);
      throw mapStorageError(err, uriFor("0".repeat(64)), "upload");
    }
  }

  /** After a lost `ifAbsent` race: the object that won. */
  private async existing(uri: string): Promise<ObjectInfo> {
    const info = await this.head(uri);
    if (!info) throw new TransientError(`object ${uri} existed a moment ago and is gone now; retry`);
    return info;
  }
}

function defaultStorage(): Storage {
  // The client retries idempotent calls itself; cap it well inside a 540 s function timeout.
  return new Storage({ retryOptions: { autoRetry: true, maxRetries: 3, maxRetryDelay: 16, totalTimeout: 120 } });
}

function infoOf(bucket: string, name: string, metadata: FileMetadata): ObjectInfo {
  return {
    uri: objectUri(bucket, name),
    bucket,
    name,
    size: Number(metadata.size ?? 0),
    generation: String(metadata.generation ?? "0"),
    contentType: metadata.contentType,
    md5Hash: metadata.md5Hash,
    updated: metadata.updated ?? metadata.timeCreated ?? new Date(0).toISOString(),
  };
}

function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

/** Maps a client error to what should happen next. */
export function mapStorageError(err: unknown, uri: string, action: string): Error {
  if (err instanceof PermanentError || err instanceof TransientError) return err;
  const status = statusOf(err);
  const code = (err as { code?: unknown } | null)?.code;
  const detail = err instanceof Error ? err.message.split("\n")[0] : String(err);
  if (status === 404) return new PermanentError("object_not_found", `no such object: ${uri}`, { cause: err });
  if (status === 412) return new PermanentError("precondition_failed", `cannot ${action} ${uri}: a precondition did not hold`, { cause: err });
  if (status === 401 || status === 403) {
    return new PermanentError("storage_forbidden", `not allowed to ${action} ${uri} (HTTP ${status}): check the service account's bucket roles`, { cause: err });
  }
  if (status === 408 || status === 429 || (status !== undefined && status >= 500)) {
    return new TransientError(`cloud storage: cannot ${action} ${uri} (HTTP ${status}): ${detail}`, { cause: err });
  }
  if (typeof code === "string" && TRANSIENT_CODES.has(code)) {
    return new TransientError(`cloud storage: cannot ${action} ${uri} (${code}): ${detail}`, { cause: err });
  }
  if (status !== undefined && status >= 400) {
    return new PermanentError("storage_request_refused", `cannot ${action} ${uri} (HTTP ${status}): ${detail}`, { cause: err });
  }
  return err instanceof Error ? err : new Error(`cloud storage: cannot ${action} ${uri}: ${detail}`);
}
