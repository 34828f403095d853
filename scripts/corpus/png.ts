/** A minimal PNG writer for the corpus (deterministic; any header, honest or not). */
import { zlibSync } from "fflate";
import { crc32 } from "node:zlib";
import { concat } from "./zip.ts";

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

export interface PngSpec {
  width: number;
  height: number;
  /** 0 grey, 2 RGB, 6 RGBA. */
  colourType: 0 | 2 | 6;
  bitDepth?: 8 | 16;
  /** Samples row-major, interleaved; null writes a tiny IDAT that does not match the header. */
  samples: Uint8Array | Uint16Array | null;
}

export function writePng(spec: PngSpec): Uint8Array {
  const depth = spec.bitDepth ?? 8;
  const channels = spec.colourType === 0 ? 1 : spec.colourType === 2 ? 3 : 4;
  const ihdr = new DataView(new ArrayBuffer(13));
  ihdr.setUint32(0, spec.width);
  ihdr.setUint32(4, spec.height);
  ihdr.setUint8(8, depth);
  ihdr.setUint8(9, spec.colourType);
  let raw: Uint8Array;
  if (spec.samples) {
    const rowBytes = spec.width * channels * (depth / 8);
    raw = new Uint8Array((rowBytes + 1) * spec.height);
    const view = new DataView(raw.buffer);
    for (let y = 0; y < spec.height; y++) {
      for (let i = 0; i < spec.width * channels; i++) {
        const v = spec.samples[y * spec.width * channels + i]!;
        const at = y * (rowBytes + 1) + 1 + i * (depth / 8);
        if (depth === 16) view.setUint16(at, v);
        else view.setUint8(at, v);
      }
    }
  } else {
    raw = new Uint8Array(64);
  }
  const signature = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return concat([signature, chunk("IHDR", new Uint8Array(ihdr.buffer)), chunk("IDAT", zlibSync(raw, { level: 9 })), chunk("IEND", new Uint8Array(0))]);
}
