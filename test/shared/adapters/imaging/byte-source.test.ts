import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { blockCachedSource, releasableSource } from "../../../../shared/adapters/imaging/byte-source.ts";
import { createNormaliser } from "../../../../shared/adapters/imaging/normaliser.ts";
import type { ByteSource } from "../../../../shared/ports.ts";
import { expectPermanent, options } from "./fixtures.ts";

/** A source over bytes that counts what is asked of it, as a remote store would be charged. */
function countingSource(bytes: Uint8Array): ByteSource & { reads: number; bytesRead: number } {
  const source = {
    size: bytes.length,
    reads: 0,
    bytesRead: 0,
    async read(offset: number, length: number) {
      const out = bytes.slice(offset, Math.min(bytes.length, offset + length));
      source.reads++;
      source.bytesRead += out.length;
      return out;
    },
  };
  return source;
}

const corpus = (file: string) => readFileSync(join(import.meta.dirname, "../../../fixtures/corpus", file));

describe("blockCachedSource", () => {
  it("answers every read exactly, across block boundaries, with few reads underneath", async () => {
    const bytes = Uint8Array.from({ length: 9 * 1024 * 1024 + 123 }, (_, i) => (i * 2654435761) >>> 24);
    const inner = countingSource(bytes);
    const cached = blockCachedSource(inner);
    let seed = 3;
    const next = (n: number) => (seed = (seed * 48271) % 2147483647) % n;
    for (let k = 0; k < 300; k++) {
      const offset = next(bytes.length + 100);
      const length = next(70_000);
      expect(Buffer.from(await cached.read(offset, length)).equals(Buffer.from(bytes.subarray(offset, offset + length)))).toBe(true);
    }
    // Sequential small reads of the whole source touch each 4 MiB block once.
    const sequentialInner = countingSource(bytes);
    const sequential = blockCachedSource(sequentialInner);
    for (let at = 0; at < bytes.length; at += 8192) await sequential.read(at, 8192);
    expect(sequentialInner.reads).toBe(3);
    expect(sequentialInner.bytesRead).toBe(bytes.length);
  });

  it("does not keep a failed block", async () => {
    let fail = true;
    const source: ByteSource = {
      size: 100,
      read: async (offset, length) => {
        if (fail) throw new Error("503");
        return new Uint8Array(Math.min(length, 100 - offset)).fill(1);
      },
    };
    const cached = blockCachedSource(source);
    await expect(cached.read(0, 10)).rejects.toThrow("503");
    fail = false;
    expect(Array.from(await cached.read(0, 3))).toEqual([1, 1, 1]);
  });
});

describe("the normaliser reads hostile uploads by ranges", () => {
  const normaliser = createNormaliser();

  it("refuses a 1 GiB zip bomb from its directory, reading the 1 MB file at most once", async () => {
    const bomb = corpus("archive/zip-bomb-honest.zip");
    const source = countingSource(bomb);
    const err = await expectPermanent(normaliser.normalise(source, "bomb.zip", options()), "zip_entry_too_large");
    expect(err.message).toMatch(/inflates to 1073742336 bytes, above MAX_INFLATED_BYTES/);
    expect(source.bytesRead).toBeLessThanOrEqual(bomb.length);
  });

  it("refuses a lying TIFF header after reading a few bytes", async () => {
    const tiff = corpus("raster/tiff-huge-dimensions.tif");
    const source = countingSource(tiff);
    await expectPermanent(normaliser.normalise(source, "huge.tif", options()), "raster_too_large");
    expect(source.bytesRead).toBeLessThanOrEqual(tiff.length);
  });

  it("normalises a stored product from a source the same as from bytes in memory", async () => {
    const zip = corpus("archive/zip-product-stored.zip");
    const fromSource = await normaliser.normalise(countingSource(zip), "P.zip", options());
    const fromBytes = await normaliser.normalise(zip, "P.zip", options());
    expect(fromSource.images.map((i) => i.png.toString("base64"))).toEqual(fromBytes.images.map((i) => i.png.toString("base64")));
    expect(fromSource.nodataPixels).toBe(fromBytes.nodataPixels);
  });
});

describe("releasableSource", () => {
  it("reads in place until released, then refuses to read", async () => {
    const source = releasableSource(Uint8Array.from([1, 2, 3, 4, 5]));
    expect(Array.from(await source.read(1, 3))).toEqual([2, 3, 4]);
    expect(Array.from(await source.read(3, 10))).toEqual([4, 5]);
    source.release();
    expect(source.size).toBe(5);
    await expect(source.read(0, 1)).rejects.toThrow(/released/);
  });
});
