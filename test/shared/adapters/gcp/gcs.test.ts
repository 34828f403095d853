import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CRC32C, Storage } from "@google-cloud/storage";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { PermanentError, TransientError } from "../../../../shared/errors.ts";
import { GcsObjectStore } from "../../../../shared/adapters/gcp/gcs.ts";
import { crc32c, crc32cBase64, startGcsFake, type GcsFake } from "../../../fakes/gcs-server.ts";

let fake: GcsFake;
let store: GcsObjectStore;
let dir: string;

beforeAll(async () => {
  fake = await startGcsFake();
  // Retries off: the error-mapping tests must see the first failure, not wait through backoff.
  store = new GcsObjectStore({
    storage: new Storage({ apiEndpoint: fake.endpoint, projectId: "test-proj", retryOptions: { autoRetry: false } }),
    resumableThresholdBytes: 64 * 1024,
  });
  dir = await mkdtemp(join(tmpdir(), "gcs-test-"));
});

afterAll(async () => {
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => fake.failNext(0, 500));

describe("CRC32C in the GCS fake", () => {
  it("matches the Castagnoli check value for '123456789' (0xE3069283)", () => {
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it("agrees with the storage client's own CRC32C on arbitrary data", () => {
    const data = Buffer.from(Array.from({ length: 10_000 }, (_, i) => (i * 7919) % 256));
    const reference = new CRC32C();
    reference.update(data);
    expect(crc32cBase64(data)).toBe(reference.toString());
  });
});

describe("GcsObjectStore against the GCS JSON API fake", () => {
  it("streams an object named after its SHA-256 through a temporary object, and streams it back", async () => {
    const parts = Array.from({ length: 40 }, (_, i) => Buffer.alloc(4096, i));
    const whole = Buffer.concat(parts);
    const sha = createHash("sha256").update(whole).digest("hex");
    async function* source() {
      yield* parts;
    }
    const { info, sha256 } = await store.putAddressed(source(), (id) => `gs://datasets/line/${id}/manifest.json`, { contentType: "application/json" });
    expect(sha256).toBe(sha);
    expect(info.uri).toBe(`gs://datasets/line/${sha}/manifest.json`);
    expect(fake.getObject("datasets", `line/${sha}/manifest.json`)?.data.equals(whole)).toBe(true);
    expect(fake.objects().filter((o) => o.name.startsWith(".staging/"))).toEqual([]);
    const back: Buffer[] = [];
    for await (const chunk of store.getStream(info.uri)) back.push(Buffer.from(chunk));
    expect(Buffer.concat(back).equals(whole)).toBe(true);

    // A source that fails leaves nothing behind.
    async function* failing() {
      yield parts[0]!;
      throw new Error("source broke");
    }
    await expect(store.putAddressed(failing(), (id) => `gs://datasets/line/${id}/manifest.json`)).rejects.toThrow(/source broke/);
    expect(fake.objects().filter((o) => o.name.startsWith(".staging/"))).toEqual([]);
    await expect((async () => {
      for await (const chunk of store.getStream("gs://datasets/nope.json")) void chunk;
    })()).rejects.toBeInstanceOf(PermanentError);
  });

  it("puts and gets an object with its content type, size, generation and MD5", async () => {
    const body = "hello, bucket";
    const info = await store.put("gs://annotation/items/a/a.txt", body, { contentType: "text/plain" });
    expect(info.uri).toBe("gs://annotation/items/a/a.txt");
    expect(info.bucket).toBe("annotation");
    expect(info.name).toBe("items/a/a.txt");
    expect(info.size).toBe(Buffer.byteLength(body));
    expect(info.contentType).toBe("text/plain");
    expect(info.md5Hash).toBe(createHash("md5").update(body).digest("base64"));
    expect(info.generation).toMatch(/^\d+$/);
    expect((await store.get(info.uri)).toString()).toBe(body);
    // The fake stored exactly the bytes the client sent.
    expect(fake.getObject("annotation", "items/a/a.txt")?.data.toString()).toBe(body);
  });

  it("reads byte ranges with one Range request each, clamped at the object's end", async () => {
    const body = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    const { uri } = await store.put("gs://archive/ranged.bin", body);
    const mark = fake.requests.length;
    expect((await store.readRange(uri, 10, 5)).equals(body.subarray(10, 15))).toBe(true);
    // `end` is inclusive in the client and in the header: 10..14 is five bytes.
    expect(fake.requests.slice(mark).map((r) => r.range)).toEqual(["bytes=10-14"]);
    expect((await store.readRange(uri, 990, 100)).equals(body.subarray(990))).toBe(true);
    expect(await store.readRange(uri, 1000, 10)).toHaveLength(0);
    expect(await store.readRange(uri, 5000, 10)).toHaveLength(0);
    const requests = fake.requests.length;
    expect(await store.readRange(uri, 3, 0)).toHaveLength(0);
    expect(fake.requests.length).toBe(requests);
    await expect(store.readRange("gs://archive/absent.bin", 0, 10)).rejects.toMatchObject({ code: "object_not_found" });
    fake.failNext(1, 503);
    await expect(store.readRange(uri, 0, 10)).rejects.toBeInstanceOf(TransientError);
  });

  it("uses one multipart request for small bodies and a resumable session for large ones", async () => {
    const before = fake.requests.length;
    await store.put("gs://annotation/small.bin", Buffer.alloc(10, 1));
    const small = fake.requests.slice(before);
    expect(small.map((r) => r.query.uploadType)).toEqual(["multipart"]);

    const mark = fake.requests.length;
    const large = Buffer.alloc(200 * 1024, 2);
    const info = await store.put("gs://annotation/large.bin", large);
    const types = fake.requests.slice(mark).map((r) => `${r.method} ${r.query.uploadType}`);
    expect(types).toEqual(["POST resumable", "PUT resumable"]);
    expect(info.size).toBe(large.length);
    expect((await store.get("gs://annotation/large.bin")).equals(large)).toBe(true);
  });

  it("ifAbsent writes once (ifGenerationMatch=0) and returns the existing object when it lost", async () => {
    const first = await store.put("gs://datasets/v1/label.json", "first", { ifAbsent: true });
    const mark = fake.requests.length;
    const second = await store.put("gs://datasets/v1/label.json", "second", { ifAbsent: true });
    const upload = fake.requests.slice(mark).find((r) => r.path.startsWith("/upload/"));
    expect(upload?.query.ifGenerationMatch).toBe("0");
    expect(second.generation).toBe(first.generation);
    expect(second.md5Hash).toBe(createHash("md5").update("first").digest("base64"));
    expect((await store.get("gs://datasets/v1/label.json")).toString()).toBe("first");
  });

  it("overwrites without ifAbsent, creating a new generation", async () => {
    const a = await store.put("gs://models/card.json", "v1");
    const b = await store.put("gs://models/card.json", "v2");
    expect(BigInt(b.generation)).toBeGreaterThan(BigInt(a.generation));
    expect((await store.get("gs://models/card.json")).toString()).toBe("v2");
  });

  it("head returns null for a missing object and info for an existing one", async () => {
    expect(await store.head("gs://archive/missing.zip")).toBeNull();
    await store.put("gs://archive/present.zip", Buffer.from([1, 2, 3]), { contentType: "application/zip" });
    const info = await store.head("gs://archive/present.zip");
    expect(info).toMatchObject({ bucket: "archive", name: "present.zip", size: 3, contentType: "application/zip" });
  });

  it("get of a missing object is a PermanentError object_not_found", async () => {
    const err = await store.get("gs://archive/nope.tif").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe("object_not_found");
    expect((err as Error).message).toContain("gs://archive/nope.tif");
  });

  it("lists by prefix across pages, sorted by name", async () => {
    const names = Array.from({ length: 1005 }, (_, i) => `inbox/${String(i).padStart(4, "0")}.json`);
    for (const name of names) fake.putObject("listing", name, "{}", "application/json");
    fake.putObject("listing", "other/x.json", "{}");
    const mark = fake.requests.length;
    const listed = await store.list("gs://listing/inbox/");
    expect(listed.map((o) => o.name)).toEqual(names);
    expect(listed[0]).toMatchObject({ uri: "gs://listing/inbox/0000.json", size: 2, contentType: "application/json" });
    const pages = fake.requests.slice(mark).filter((r) => r.method === "GET");
    expect(pages.length).toBe(2);
    expect(pages[1]!.query.pageToken).toBeTruthy();
  });

  it("deletes, and deleting a missing object is not an error", async () => {
    await store.put("gs://annotation/tmp/x", "x");
    await store.delete("gs://annotation/tmp/x");
    expect(await store.head("gs://annotation/tmp/x")).toBeNull();
    await expect(store.delete("gs://annotation/tmp/x")).resolves.toBeUndefined();
  });

  it("streams uploads from and downloads to local files, verifying hashes", async () => {
    const local = join(dir, "in.bin");
    const data = Buffer.from(Array.from({ length: 300 * 1024 }, (_, i) => i % 251));
    await writeFile(local, data);
    const info = await store.upload(local, "gs://models/run1/model.onnx", { contentType: "application/octet-stream" });
    expect(info.size).toBe(data.length);
    const out = join(dir, "nested", "out.bin");
    await store.download("gs://models/run1/model.onnx", out);
    expect((await readFile(out)).equals(data)).toBe(true);
  });

  it("upload with ifAbsent keeps the first object", async () => {
    const local = join(dir, "second.txt");
    await writeFile(local, "second");
    await store.put("gs://models/once.txt", "first");
    const info = await store.upload(local, "gs://models/once.txt", { ifAbsent: true });
    expect(info.md5Hash).toBe(createHash("md5").update("first").digest("base64"));
  });

  it("maps 503 and 429 to TransientError and 403 to PermanentError storage_forbidden", async () => {
    await store.put("gs://archive/busy.txt", "x");
    fake.failNext(1, 503);
    await expect(store.get("gs://archive/busy.txt")).rejects.toBeInstanceOf(TransientError);
    fake.failNext(1, 429);
    await expect(store.head("gs://archive/busy.txt")).rejects.toBeInstanceOf(TransientError);
    fake.failNext(1, 403);
    const err = await store.get("gs://archive/busy.txt").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe("storage_forbidden");
  });

  it("maps a refused connection to TransientError", async () => {
    const dead = new GcsObjectStore({ storage: new Storage({ apiEndpoint: "http://127.0.0.1:9", projectId: "p", retryOptions: { autoRetry: false } }) });
    await expect(dead.head("gs://archive/x")).rejects.toBeInstanceOf(TransientError);
  });

  it("signs V4 read URLs with the given key, for the requested lifetime", async () => {
    // A throwaway key made here: test keys are never committed.
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const signing = new GcsObjectStore({
      storage: new Storage({
        apiEndpoint: fake.endpoint,
        projectId: "test-proj",
        credentials: { client_email: "signer@test-proj.iam.gserviceaccount.com", private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString() },
      }),
    });
    const url = new URL(await signing.signedUrl("gs://annotation/items/a/a.txt", { expiresInSeconds: 600 }));
    expect(url.pathname).toContain("/annotation/items/a/a.txt");
    expect(url.searchParams.get("X-Goog-Algorithm")).toBe("GOOG4-RSA-SHA256");
    expect(url.searchParams.get("X-Goog-Expires")).toBe("600");
    expect(url.searchParams.get("X-Goog-Credential")).toMatch(/^signer@test-proj\.iam\.gserviceaccount\.com\//);
    expect(url.searchParams.get("X-Goog-Signature")).toMatch(/^[0-9a-f]{512}$/);
  });
});
