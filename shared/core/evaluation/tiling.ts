import type { Region } from "../metrics/segmentation.ts";

/**
 * Tiling keeps segmentation memory bounded on large scenes: the model sees one tile at a time and
 * metrics are accumulated per tile against the same region of the ground-truth raster, at native
 * resolution (no resizing, so no interpolated labels).
 *
 * - Fully convolutional models (card size null): tiles of `tileSize`, edge tiles smaller, each
 *   padded up to a multiple of `tileMultiple` so encoder/decoder models with strided stages see a
 *   size they accept; the padding is cropped from the output.
 * - Fixed-size models: tiles of the card's size; edge tiles (and images smaller than the model)
 *   are padded to it and cropped the same way.
 */
export interface TileSpec {
  region: Region;
  /** Input size the model sees (region + padding). */
  inputWidth: number;
  inputHeight: number;
}

/** Regions of at most `tileWidth × tileHeight` covering the image row by row. */
export function gridRegions(width: number, height: number, tileWidth: number, tileHeight: number): Region[] {
  if (tileWidth < 1 || tileHeight < 1) throw new Error("tile size must be positive");
  const regions: Region[] = [];
  for (let y = 0; y < height; y += tileHeight) {
    for (let x = 0; x < width; x += tileWidth) {
      regions.push({ x, y, width: Math.min(tileWidth, width - x), height: Math.min(tileHeight, height - y) });
    }
  }
  return regions;
}

export function roundUpTo(size: number, multiple: number): number {
  return multiple <= 1 ? size : Math.ceil(size / multiple) * multiple;
}

export function planTiles(
  width: number,
  height: number,
  model: { width: number | null; height: number | null },
  options: { tileSize: number; tileMultiple: number },
): TileSpec[] {
  if (model.width !== null && model.height !== null) {
    const fixedW = model.width;
    const fixedH = model.height;
    return gridRegions(width, height, fixedW, fixedH).map((region) => ({ region, inputWidth: fixedW, inputHeight: fixedH }));
  }
  return gridRegions(width, height, options.tileSize, options.tileSize).map((region) => ({
    region,
    inputWidth: roundUpTo(region.width, options.tileMultiple),
    inputHeight: roundUpTo(region.height, options.tileMultiple),
  }));
}
