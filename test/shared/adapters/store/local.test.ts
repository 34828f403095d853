import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalObjectStore } from "../../../../shared/adapters/store/local.ts";

let root: string;
let store: LocalObjectStore;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "local-store-"));
  store = new LocalObjectStore(root);
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe("LocalObjectStore.readRange", () => {
  it("returns the requested bytes, fewer at the end, none past it", async () => {
    const body = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 31) % 256));
    const { uri } = await store.put("gs://archive/a/ranged.bin", body);
    expect((await store.readRange(uri, 0, 4)).equals(body.subarray(0, 4))).toBe(true);
    expect((await store.readRange(uri, 500, 123)).equals(body.subarray(500, 623))).toBe(true);
    expect((await store.readRange(uri, 990, 100)).equals(body.subarray(990))).toBe(true);
    expect(await store.readRange(uri, 1000, 10)).toHaveLength(0);
    expect(await store.readRange(uri, 2 ** 40, 10)).toHaveLength(0);
    expect(await store.readRange(uri, 7, 0)).toHaveLength(0);
  });

  it("allocates what the object holds, not what a caller asks for", async () => {
    const { uri } = await store.put("gs://archive/small.bin", Buffer.from([1, 2, 3]));
    // A hostile length must not become a 1 TiB allocation.
    expect(Array.from(await store.readRange(uri, 1, 2 ** 40))).toEqual([2, 3]);
  });

  it("refuses missing objects and names outside the store", async () => {
    await expect(store.readRange("gs://archive/absent.bin", 0, 1)).rejects.toMatchObject({ code: "object_not_found" });
    await expect(store.readRange("gs://archive/../../etc/passwd", 0, 1)).rejects.toMatchObject({ code: "bad_object_name" });
    await expect(store.readRange("gs://archive/small.bin", -1, 1)).rejects.toThrow(RangeError);
  });
});
