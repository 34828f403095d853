import { PermanentError } from "../../errors.ts";
import type { DecodedRaster } from "../../ports.ts";
import type { BandName, ModelCard } from "../models/model-card.ts";
import { letterbox, type Letterbox } from "../metrics/letterbox.ts";
import type { Region } from "../metrics/segmentation.ts";
import type { ItemImages } from "./types.ts";

/**
 * Building model input tensors from an item's decoded PNGs, the way the model card describes:
 * channel c of the input is band `card.input.channels[c]`, normalised as
 * `(pixel * scale - mean[c]) / std[c]` for float32 inputs (uint8 inputs get the raw 0–255 sample:
 * such a model normalises inside its graph), laid out NCHW or NHWC.
 */

/** One band of an item: sample of pixel i is `data[i * stride + offset]`. */
export interface BandPlane {
  data: Uint8Array;
  stride: number;
  offset: number;
}

/** The bands a model needs, in input-channel order, all of one size. */
export interface BandSet {
  width: number;
  height: number;
  planes: BandPlane[];
}

/**
 * Picks the card's channels out of an item's images. Products give red/green/blue from the RGB PNG
 * and nir from the NIR PNG; plain images give red/green/blue (a grey image gives the same plane
 * three times). A band the item does not have is a PermanentError naming both.
 */
export function selectBands(images: ItemImages, channels: readonly BandName[], itemId: string): BandSet {
  const colour = images.rgb ?? images.image;
  let width: number | undefined;
  let height: number | undefined;
  const planes = channels.map((band): BandPlane => {
    const raster = band === "nir" ? images.nir : colour;
    if (!raster) {
      const has = Object.keys(images).filter((k) => images[k as keyof ItemImages]).join(", ") || "no images";
      throw new PermanentError("missing_band", `the model needs band "${band}" but item ${itemId} has ${has}`);
    }
    if (width === undefined) {
      width = raster.width;
      height = raster.height;
    } else if (raster.width !== width || raster.height !== height) {
      throw new PermanentError(
        "image_size_mismatch",
        `item ${itemId}: band "${band}" is ${raster.width}×${raster.height}, other bands are ${width}×${height}`,
      );
    }
    return planeOf(raster, band);
  });
  return { width: width ?? 0, height: height ?? 0, planes };
}

function planeOf(raster: DecodedRaster, band: BandName): BandPlane {
  const { channels, data } = raster;
  if (channels < 1 || data.length < raster.width * raster.height * channels) {
    throw new PermanentError("corrupt_image", `decoded ${band} image has ${data.length} bytes for ${raster.width}×${raster.height}×${channels}`);
  }
  // Grey (1) and grey+alpha (2) images carry one colour plane; the NIR PNG is grey.
  const offset = channels <= 2 || band === "nir" ? 0 : band === "red" ? 0 : band === "green" ? 1 : 2;
  return { data, stride: channels, offset };
}

/** Per-channel lookup tables: the normalised value of every possible 8-bit sample. */
export interface InputEncoding {
  dtype: "float32" | "uint8";
  layout: "NCHW" | "NHWC";
  channels: number;
  /** lut[c][v] = (v * scale - mean[c]) / std[c]; unused for uint8 inputs. */
  luts: Float32Array[];
}

export function inputEncoding(card: ModelCard): InputEncoding {
  const { channels, normalisation, dtype, layout } = card.input;
  const luts = channels.map((_, c) => {
    const mean = normalisation.mean?.[c] ?? 0;
    const std = normalisation.std?.[c] ?? 1;
    const lut = new Float32Array(256);
    for (let v = 0; v < 256; v++) lut[v] = (v * normalisation.scale - mean) / std;
    return lut;
  });
  return { dtype, layout, channels: channels.length, luts };
}

export function allocateInput(encoding: InputEncoding, batch: number, height: number, width: number): Float32Array | Uint8Array {
  const size = batch * encoding.channels * height * width;
  return encoding.dtype === "float32" ? new Float32Array(size) : new Uint8Array(size);
}

export function inputDims(encoding: InputEncoding, batch: number, height: number, width: number): number[] {
  return encoding.layout === "NCHW" ? [batch, encoding.channels, height, width] : [batch, height, width, encoding.channels];
}

/**
 * Writes `region` of the bands into batch slot `slot` of a `tileHeight × tileWidth` input tensor,
 * top-left aligned; the rest of the tile is filled with the encoding of `padPixel` (0–255).
 */
export function writeTile(
  target: Float32Array | Uint8Array,
  slot: number,
  encoding: InputEncoding,
  tileHeight: number,
  tileWidth: number,
  bands: BandSet,
  region: Region,
  padPixel = 0,
): void {
  const { channels, layout, luts, dtype } = encoding;
  if (bands.planes.length !== channels) throw new Error(`${bands.planes.length} bands for ${channels} input channels`);
  if (region.width > tileWidth || region.height > tileHeight) throw new Error("region is larger than the tile");
  const plane = tileHeight * tileWidth;
  const slotBase = slot * channels * plane;
  const isFloat = dtype === "float32";
  for (let c = 0; c < channels; c++) {
    const { data, stride, offset } = bands.planes[c]!;
    const lut = luts[c]!;
    const pad = isFloat ? lut[padPixel]! : padPixel;
    // NCHW: channel planes; NHWC: interleaved, channel c every `channels` values.
    const chanBase = layout === "NCHW" ? slotBase + c * plane : slotBase + c;
    const step = layout === "NCHW" ? 1 : channels;
    for (let y = 0; y < tileHeight; y++) {
      let out = chanBase + y * tileWidth * step;
      if (y >= region.height) {
        for (let x = 0; x < tileWidth; x++, out += step) target[out] = pad;
        continue;
      }
      let src = ((region.y + y) * bands.width + region.x) * stride + offset;
      if (isFloat) {
        for (let x = 0; x < region.width; x++, out += step, src += stride) target[out] = lut[data[src]!]!;
      } else {
        for (let x = 0; x < region.width; x++, out += step, src += stride) target[out] = data[src]!;
      }
      for (let x = region.width; x < tileWidth; x++, out += step) target[out] = pad;
    }
  }
}

/** Where a resized image sits inside a fixed-size input: scale, offset and resized size. */
export interface Placement {
  scale: number;
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The placement of a letterbox (`metrics/letterbox.ts`, Ultralytics' `LetterBox` arithmetic). */
export function placementOf(lb: Letterbox): Placement {
  return { scale: lb.scale, left: lb.padX, top: lb.padY, width: lb.newWidth, height: lb.newHeight };
}

/** Keep the aspect ratio, fit inside `dstW × dstH`, centre, pad the rest. */
export function letterboxPlacement(srcW: number, srcH: number, dstW: number, dstH: number): Placement {
  return placementOf(letterbox({ srcWidth: srcW, srcHeight: srcH, dstWidth: dstW, dstHeight: dstH }));
}

/**
 * Writes the whole band set resized (bilinear, pixel centres aligned as in OpenCV's INTER_LINEAR)
 * into `placement` of a `tileHeight × tileWidth` slot; everything outside is `padPixel`.
 */
export function writeResampled(
  target: Float32Array | Uint8Array,
  slot: number,
  encoding: InputEncoding,
  tileHeight: number,
  tileWidth: number,
  bands: BandSet,
  placement: Placement,
  padPixel: number,
): void {
  const { channels, layout, luts, dtype } = encoding;
  const plane = tileHeight * tileWidth;
  const slotBase = slot * channels * plane;
  const sx = bands.width / placement.width;
  const sy = bands.height / placement.height;
  // Source coordinates per destination column/row, computed once for all channels.
  const x0 = new Int32Array(placement.width);
  const x1 = new Int32Array(placement.width);
  const fx = new Float32Array(placement.width);
  for (let x = 0; x < placement.width; x++) {
    const s = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), bands.width - 1);
    x0[x] = Math.floor(s);
    x1[x] = Math.min(x0[x]! + 1, bands.width - 1);
    fx[x] = s - x0[x]!;
  }
  for (let c = 0; c < channels; c++) {
    const { data, stride, offset } = bands.planes[c]!;
    const lut = luts[c]!;
    const isFloat = dtype === "float32";
    const pad = isFloat ? lut[padPixel]! : padPixel;
    const chanBase = layout === "NCHW" ? slotBase + c * plane : slotBase + c;
    const step = layout === "NCHW" ? 1 : channels;
    for (let y = 0; y < tileHeight; y++) {
      const row = chanBase + y * tileWidth * step;
      const py = y - placement.top;
      if (py < 0 || py >= placement.height) {
        for (let x = 0; x < tileWidth; x++) target[row + x * step] = pad;
        continue;
      }
      const s = Math.min(Math.max((py + 0.5) * sy - 0.5, 0), bands.height - 1);
      const y0 = Math.floor(s);
      const y1 = Math.min(y0 + 1, bands.height - 1);
      const fy = s - y0;
      for (let x = 0; x < tileWidth; x++) {
        const px = x - placement.left;
        if (px < 0 || px >= placement.width) {
          target[row + x * step] = pad;
          continue;
        }
        const a = data[(y0 * bands.width + x0[px]!) * stride + offset]!;
        const b = data[(y0 * bands.width + x1[px]!) * stride + offset]!;
        const cc = data[(y1 * bands.width + x0[px]!) * stride + offset]!;
        const d = data[(y1 * bands.width + x1[px]!) * stride + offset]!;
        const top = a + (b - a) * fx[px]!;
        const bottom = cc + (d - cc) * fx[px]!;
        // Round to an 8-bit sample first, as a resized 8-bit image would hold.
        const v = Math.round(top + (bottom - top) * fy);
        target[row + x * step] = isFloat ? lut[v]! : v;
      }
    }
  }
}
