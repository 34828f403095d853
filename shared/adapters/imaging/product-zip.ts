/**
 * Packages a GeoTIFF the way satellite products arrive: a zip holding `<name>/<name>.tif` plus
 * small side files (metadata XML), like the seed's products.
 */
import { zipSync, type Zippable } from "fflate";

export interface ProductZipOptions {
  /**
   * Deflate level for the zip entries (0 stores). Default 6, as ordinary zip tools do: a TIFF
   * that is already deflate-compressed barely shrinks, but real uploads look like this.
   */
  level?: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
}

/** `extras` are side files placed next to the TIFF, e.g. `{ "MTD.xml": "<…>" }`. */
export function makeProductZip(
  name: string,
  tiff: Uint8Array,
  extras: Record<string, Uint8Array | string> = {},
  options: ProductZipOptions = {},
): Uint8Array {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new RangeError(`makeProductZip: product name "${name}" must be a plain file stem`);
  const level = options.level ?? 6;
  const folder: Zippable = { [`${name}.tif`]: [tiff, { level }] };
  for (const [fileName, content] of Object.entries(extras)) {
    folder[fileName] = [typeof content === "string" ? new TextEncoder().encode(content) : content, { level }];
  }
  return zipSync({ [name]: folder });
}
