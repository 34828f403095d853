import { crc32 } from "node:zlib";
import { zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { openZipEntry } from "../../../../shared/adapters/imaging/zip-entry.ts";
import { listZipEntries, type ZipEntry } from "../../../../shared/adapters/imaging/zip-reader.ts";
import { PermanentError } from "../../../../shared/errors.ts";

/**
 * A one-entry stored zip written the ZIP64 way (APPNOTE 4.3.14/4.5.3): 0xFFFFFFFF in the 32-bit
 * size and offset fields, the real values in a ZIP64 extra field, and a ZIP64 end record + locator.
 */
function zip64Archive(name: string, content: Uint8Array): Uint8Array {
  const nameBytes = new TextEncoder().encode(name);
  const crc = crc32(content);
  const local = new DataView(new ArrayBuffer(30 + nameBytes.length));
  local.setUint32(0, 0x04034b50, true);
  local.setUint16(4, 45, true); // version needed: 4.5 (ZIP64)
  local.setUint32(14, crc, true);
  local.setUint32(18, content.length, true);
  local.setUint32(22, content.length, true);
  local.setUint16(26, nameBytes.length, true);
  const localBytes = new Uint8Array(local.buffer);
  localBytes.set(nameBytes, 30);

  const extra = new DataView(new ArrayBuffer(4 + 24));
  extra.setUint16(0, 1, true);
  extra.setUint16(2, 24, true);
  extra.setBigUint64(4, BigInt(content.length), true); // original size
  extra.setBigUint64(12, BigInt(content.length), true); // compressed size
  extra.setBigUint64(20, 0n, true); // local header offset
  const central = new DataView(new ArrayBuffer(46 + nameBytes.length + 28));
  central.setUint32(0, 0x02014b50, true);
  central.setUint16(4, 45, true);
  central.setUint16(6, 45, true);
  central.setUint32(16, crc, true);
  central.setUint32(20, 0xffffffff, true);
  central.setUint32(24, 0xffffffff, true);
  central.setUint16(28, nameBytes.length, true);
  central.setUint16(30, 28, true);
  central.setUint32(42, 0xffffffff, true);
  const centralBytes = new Uint8Array(central.buffer);
  centralBytes.set(nameBytes, 46);
  centralBytes.set(new Uint8Array(extra.buffer), 46 + nameBytes.length);

  const directoryOffset = localBytes.length + content.length;
  const end64At = directoryOffset + centralBytes.length;
  const end64 = new DataView(new ArrayBuffer(56));
  end64.setUint32(0, 0x06064b50, true);
  end64.setBigUint64(4, 44n, true);
  end64.setBigUint64(24, 1n, true);
  end64.setBigUint64(32, 1n, true);
  end64.setBigUint64(40, BigInt(centralBytes.length), true);
  end64.setBigUint64(48, BigInt(directoryOffset), true);
  const locator = new DataView(new ArrayBuffer(20));
  locator.setUint32(0, 0x07064b50, true);
  locator.setBigUint64(8, BigInt(end64At), true);
  locator.setUint32(16, 1, true);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, 0xffff, true);
  end.setUint16(10, 0xffff, true);
  end.setUint32(12, 0xffffffff, true);
  end.setUint32(16, 0xffffffff, true);

  const parts = [localBytes, content, centralBytes, new Uint8Array(end64.buffer), new Uint8Array(locator.buffer), new Uint8Array(end.buffer)];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The whole content of an entry, as the normaliser would read it. */
async function readEntry(zip: Uint8Array, entry: ZipEntry, maxInflatedBytes = 1 << 20): Promise<Uint8Array> {
  const opened = await openZipEntry(zip, entry, { maxInflatedBytes });
  await opened.verify();
  return new Uint8Array(await opened.source.read(0, opened.source.size));
}

describe("zip reader", () => {
  it("lists and reads stored and deflated entries written by fflate", async () => {
    const text = new TextEncoder().encode("hello product ".repeat(500));
    const zip = zipSync({ "a/b.txt": [text, { level: 9 }], "a/raw.bin": [Uint8Array.from([1, 2, 3]), { level: 0 }] });
    const { entries } = await listZipEntries(zip);
    expect(entries.filter((e) => !e.isDirectory).map((e) => [e.name, e.size, e.method])).toEqual([
      ["a/b.txt", text.length, 8],
      ["a/raw.bin", 3, 0],
    ]);
    expect(await readEntry(zip, entries.find((e) => e.name === "a/b.txt")!)).toEqual(text);
    expect(Array.from(await readEntry(zip, entries.find((e) => e.name === "a/raw.bin")!))).toEqual([1, 2, 3]);
  });

  it("reads ZIP64 sizes and offsets", async () => {
    const content = Uint8Array.from({ length: 300 }, (_, i) => i % 251);
    const zip = zip64Archive("big/product.tif", content);
    const [entry] = (await listZipEntries(zip)).entries;
    expect(entry).toMatchObject({ name: "big/product.tif", size: 300, compressedSize: 300, localHeaderOffset: 0, method: 0 });
    expect(await readEntry(zip, entry!)).toEqual(content);
  });

  it("refuses encrypted entries and unknown compression methods with their own code", async () => {
    const zip = zipSync({ "x.tif": [Uint8Array.from([1, 2, 3]), { level: 0 }] });
    const [entry] = (await listZipEntries(zip)).entries;
    const encrypted = readEntry(zip, { ...entry!, encrypted: true });
    await expect(encrypted).rejects.toBeInstanceOf(PermanentError);
    await expect(encrypted).rejects.toMatchObject({ code: "unsupported_zip" });
    await expect(readEntry(zip, { ...entry!, method: 14 })).rejects.toMatchObject({ code: "unsupported_zip", message: expect.stringMatching(/method 14/) });
  });

  it("reports a damaged central directory as corrupt_zip", async () => {
    const zip = zipSync({ "x.tif": Uint8Array.from([1, 2, 3]) });
    const damaged = zip.slice();
    const view = new DataView(damaged.buffer);
    const directoryOffset = view.getUint32(damaged.length - 22 + 16, true);
    view.setUint32(directoryOffset, 0x12345678, true);
    await expect(listZipEntries(damaged)).rejects.toThrow(PermanentError);
    await expect(listZipEntries(damaged)).rejects.toThrow(/central directory entry 1 of 1/);
  });
});
