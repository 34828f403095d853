/**
 * A TIFF writer for the corpus: strips or tiles, chunky or planar, either byte order, optional
 * deflate, and hooks to lie in any tag or block. Deterministic (fflate's deflate).
 */
import { zlibSync } from "fflate";
import { concat } from "./zip.ts";

export type Samples = Float32Array | Uint16Array | Uint8Array;

export interface TiffSpec {
  width: number;
  height: number;
  /** One array per band (width × height each, one type), or a band count for header-only files. */
  bands: Samples[] | { count: number; bits: number; format: 1 | 2 | 3 };
  bigEndian?: boolean;
  tile?: { width: number; height: number };
  rowsPerStrip?: number;
  planar?: boolean;
  compression?: "none" | "deflate";
  /** Written as GDAL_NODATA. */
  nodata?: string;
  /** Replaces the bytes of block k after compression (bombs, garbage). */
  block?: (k: number, bytes: Uint8Array) => Uint8Array;
  /** Edits the tag list before it is written (lying headers). */
  tags?: (tags: Tag[]) => Tag[];
}

export interface Tag {
  tag: number;
  type: 2 | 3 | 4 | 12;
  values: number[] | string;
  /** Declared count, when it should differ from the values written (a lie). */
  count?: number;
}

const SIZE = { 2: 1, 3: 2, 4: 4, 12: 8 } as const;

export function writeTiff(spec: TiffSpec): Uint8Array {
  const { width, height } = spec;
  const le = !spec.bigEndian;
  const header = Array.isArray(spec.bands) ? null : spec.bands;
  const arrays = Array.isArray(spec.bands) ? spec.bands : [];
  const samples = header ? header.count : arrays.length;
  const bits = header ? header.bits : arrays[0]!.BYTES_PER_ELEMENT * 8;
  const format = header ? header.format : arrays[0] instanceof Float32Array ? 3 : 1;
  const bytes = bits / 8;
  const tiled = spec.tile !== undefined;
  const blockWidth = spec.tile?.width ?? width;
  const blockHeight = spec.tile?.height ?? Math.min(height, spec.rowsPerStrip ?? height);
  const across = Math.max(1, Math.ceil(width / blockWidth));
  const down = Math.max(1, Math.ceil(height / blockHeight));
  const planes = spec.planar ? samples : 1;

  const blocks: Uint8Array[] = [];
  for (let plane = 0; plane < planes; plane++) {
    for (let by = 0; by < down; by++) {
      for (let bx = 0; bx < across; bx++) {
        const rows = tiled ? blockHeight : Math.min(blockHeight, height - by * blockHeight);
        const perPixel = spec.planar ? 1 : samples;
        // Header-only files (lying dimensions) take their block bytes from `spec.block`.
        const raw = new Uint8Array(arrays.length ? blockWidth * rows * perPixel * bytes : 0);
        if (arrays.length) {
          const view = new DataView(raw.buffer);
          for (let y = 0; y < rows; y++) {
            for (let x = 0; x < blockWidth; x++) {
              const sx = bx * blockWidth + x;
              const sy = by * blockHeight + y;
              if (sx >= width || sy >= height) continue; // edge tiles are padded with zeros
              for (let s = 0; s < perPixel; s++) {
                const band = spec.planar ? plane : s;
                const value = arrays[band]![sy * width + sx]!;
                const at = ((y * blockWidth + x) * perPixel + s) * bytes;
                if (format === 3) view.setFloat32(at, value, le);
                else if (bits === 16) view.setUint16(at, value, le);
                else view.setUint8(at, value);
              }
            }
          }
        }
        const packed = spec.compression === "deflate" ? zlibSync(raw, { level: 6 }) : raw;
        blocks.push(spec.block ? spec.block(blocks.length, packed) : packed);
      }
    }
  }

  let at = 8;
  const offsets = blocks.map((b) => {
    const o = at;
    at += b.length + (b.length % 2); // word-align each block, as TIFF writers do
    return o;
  });
  let tags: Tag[] = [
    { tag: 256, type: 4, values: [width] },
    { tag: 257, type: 4, values: [height] },
    { tag: 258, type: 3, values: new Array<number>(samples).fill(bits) },
    { tag: 259, type: 3, values: [spec.compression === "deflate" ? 8 : 1] },
    { tag: 262, type: 3, values: [1] },
    { tag: 277, type: 3, values: [samples] },
    { tag: 284, type: 3, values: [spec.planar ? 2 : 1] },
    { tag: 339, type: 3, values: new Array<number>(samples).fill(format) },
    ...(tiled
      ? [
          { tag: 322, type: 4, values: [blockWidth] } as Tag,
          { tag: 323, type: 4, values: [blockHeight] } as Tag,
          { tag: 324, type: 4, values: offsets } as Tag,
          { tag: 325, type: 4, values: blocks.map((b) => b.length) } as Tag,
        ]
      : [
          { tag: 273, type: 4, values: offsets } as Tag,
          { tag: 278, type: 4, values: [blockHeight] } as Tag,
          { tag: 279, type: 4, values: blocks.map((b) => b.length) } as Tag,
        ]),
    ...(spec.nodata === undefined ? [] : [{ tag: 42113, type: 2, values: `${spec.nodata}\0` } as Tag]),
  ];
  if (spec.tags) tags = spec.tags(tags);
  tags.sort((a, b) => a.tag - b.tag);

  const ifdAt = at;
  const ifdSize = 2 + tags.length * 12 + 4;
  let external = ifdAt + ifdSize;
  const ifd = new DataView(new ArrayBuffer(ifdSize));
  const extras: Uint8Array[] = [];
  ifd.setUint16(0, tags.length, le);
  tags.forEach((t, k) => {
    const p = 2 + k * 12;
    const values = typeof t.values === "string" ? Array.from(new TextEncoder().encode(t.values)) : t.values;
    const data = new DataView(new ArrayBuffer(Math.max(4, values.length * SIZE[t.type])));
    values.forEach((v, i) => {
      const o = i * SIZE[t.type];
      if (t.type === 2) data.setUint8(o, v);
      else if (t.type === 3) data.setUint16(o, v, le);
      else if (t.type === 4) data.setUint32(o, v, le);
      else data.setFloat64(o, v, le);
    });
    ifd.setUint16(p, t.tag, le);
    ifd.setUint16(p + 2, t.type, le);
    ifd.setUint32(p + 4, t.count ?? values.length, le);
    if (values.length * SIZE[t.type] <= 4) {
      for (let i = 0; i < 4; i++) ifd.setUint8(p + 8 + i, data.getUint8(i));
    } else {
      ifd.setUint32(p + 8, external, le);
      const bytes = new Uint8Array(data.buffer);
      extras.push(bytes);
      external += bytes.length;
    }
  });
  const head = new DataView(new ArrayBuffer(8));
  head.setUint8(0, le ? 0x49 : 0x4d);
  head.setUint8(1, le ? 0x49 : 0x4d);
  head.setUint16(2, 42, le);
  head.setUint32(4, ifdAt, le);
  const body = blocks.flatMap((b) => (b.length % 2 ? [b, new Uint8Array(1)] : [b]));
  return concat([new Uint8Array(head.buffer), ...body, new Uint8Array(ifd.buffer), ...extras]);
}

/** A deterministic value field: smooth, varied, no two bands alike. */
export function field(width: number, height: number, band: number, scale = 1): Float32Array {
  return Float32Array.from({ length: width * height }, (_, i) => {
    const x = i % width;
    const y = Math.floor(i / width);
    return scale * (0.5 + 0.4 * Math.sin((x + 3 * band) / 5) * Math.cos((y - band) / 7));
  });
}
