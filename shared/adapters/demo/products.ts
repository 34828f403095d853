/**
 * Demo uploads: synthetic scenes packaged like real satellite products (a zip holding a 4-band
 * float32 GeoTIFF in B,G,R,NIR order, so the default mapping rgb=3,2,1 nir=4 shows true colour),
 * with the ground truth kept aside for the annotation simulator; and the broken uploads the demo
 * throws at the pipeline to show failures being recorded rather than crashing anything.
 */
import { createPrng } from "../../core/demo/prng.ts";
import { generateScene } from "../../core/demo/scenes.ts";
import { writeGeoTiff } from "../imaging/geotiff-writer.ts";
import { makeProductZip } from "../imaging/product-zip.ts";

export interface DemoProductOptions {
  seed: number;
  width: number;
  height: number;
  /** Product name: the zip's folder and the TIFF's stem. */
  name: string;
  /** Declared nodata value written into the pixels and GDAL_NODATA (e.g. -9999); NaN when absent. */
  nodataValue?: number;
  cloudiness?: number;
}

export interface DemoProduct {
  name: string;
  zip: Uint8Array;
  groundTruth: { width: number; height: number; mask: Uint8Array };
}

export function makeDemoProduct(options: DemoProductOptions): DemoProduct {
  const { seed, width, height, name, nodataValue } = options;
  const scene = generateScene({ seed, width, height, ...(options.cloudiness === undefined ? {} : { cloudiness: options.cloudiness }) });
  const bands = [scene.bands.blue, scene.bands.green, scene.bands.red, scene.bands.nir];
  if (nodataValue !== undefined && !Number.isNaN(nodataValue)) {
    const fill = Math.fround(nodataValue);
    // The scene's arrays are ours alone (generated just above), so fill in place.
    for (const band of bands) {
      for (let i = 0; i < band.length; i++) if (Number.isNaN(band[i])) band[i] = fill;
    }
  }
  const tiff = writeGeoTiff({ width, height, bands, nodata: nodataValue ?? NaN, compression: "deflate" });
  const zip = makeProductZip(name, tiff, { "MTD.xml": metadataXml(name, seed, width, height) });
  return { name, zip, groundTruth: { width, height, mask: scene.groundTruth } };
}

function metadataXml(name: string, seed: number, width: number, height: number): string {
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<Product name="${name}" generator="mlops-loop demo" seed="${seed}">`,
    `  <Size width="${width}" height="${height}"/>`,
    `  <Bands>`,
    `    <Band index="1" name="blue"/>`,
    `    <Band index="2" name="green"/>`,
    `    <Band index="3" name="red"/>`,
    `    <Band index="4" name="nir"/>`,
    `  </Bands>`,
    `</Product>`,
    ``,
  ].join("\n");
}

export interface CorruptUploads {
  /** Random bytes meant to be uploaded under a `.zip` name. */
  randomBytesZip: Uint8Array;
  /** The first part of a valid product GeoTIFF, cut off mid-pixel-data. */
  truncatedTiff: Uint8Array;
  zeroByte: Uint8Array;
}

export function makeCorruptUploads(seed: number): CorruptUploads {
  const prng = createPrng(seed);
  const randomBytesZip = new Uint8Array(4096);
  for (let i = 0; i < randomBytesZip.length; i++) randomBytesZip[i] = prng.int(256);
  // Random bytes could, once in four billion seeds, start like a zip or TIFF; make sure they do not.
  randomBytesZip[0] = 0x00;

  const scene = generateScene({ seed, width: 64, height: 64 });
  const full = writeGeoTiff({
    width: 64,
    height: 64,
    bands: [scene.bands.blue, scene.bands.green, scene.bands.red, scene.bands.nir],
    nodata: NaN,
    compression: "none",
  });
  // Keep the header, directory and part of the strips: opens fine, fails while reading pixels.
  const truncatedTiff = full.slice(0, Math.floor(full.length * 0.6));
  return { randomBytesZip, truncatedTiff, zeroByte: new Uint8Array(0) };
}
