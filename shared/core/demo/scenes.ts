/**
 * Synthetic multispectral scenes for the demo: blue, green, red and NIR surface reflectance with a
 * ground-truth class mask in the seed project's classes (Fill for nodata, Clear for land and water
 * alike, Cloud, Thin_Cloud, Cloud_Shadow). Pure and deterministic (same seed → same bytes), so the demo, its label
 * simulator and the tests agree on every pixel without storing fixtures.
 *
 * The physics is deliberately rough but in the right direction, so a per-pixel classifier has
 * something real to learn: water is dark with almost no NIR, land has more NIR than red
 * (vegetation) or is bright-ish soil, thick cloud is bright and flat in every band, cloud shadow is
 * the surface darkened, and thin cloud is a translucent blend of cloud over the surface — at low
 * opacity it is close to bright land, which is meant to be the hard case.
 */
import { createPrng, deriveSeed, type Prng } from "./prng.ts";

/** Class ids of the default ontology (shared/config/schema.ts DEFAULT_ONTOLOGY). */
export const SceneClass = {
  fill: 0,
  clear: 1,
  cloud: 2,
  thinCloud: 3,
  cloudShadow: 4,
} as const;

export interface SceneOptions {
  seed: number;
  width: number;
  height: number;
  /** Share of the scene covered by cloud (thick + thin), 0..1. Default 0.3. */
  cloudiness?: number;
}

export interface SceneBands {
  blue: Float32Array;
  green: Float32Array;
  red: Float32Array;
  nir: Float32Array;
}

export interface Scene {
  width: number;
  height: number;
  /** Surface reflectance 0..1 per band, row-major; NaN where the scene has no data. */
  bands: SceneBands;
  /** Class id per pixel (SceneClass); Fill (0) exactly where the bands are NaN. */
  groundTruth: Uint8Array;
  /** 1 where the surface is water, 0 on land and nodata: both surfaces are Clear in the labels. */
  water: Uint8Array;
}

type Spectrum = readonly [blue: number, green: number, red: number, nir: number];

const WATER_CLEAR: Spectrum = [0.07, 0.06, 0.035, 0.015];
const WATER_TURBID: Spectrum = [0.09, 0.1, 0.08, 0.035];
const VEGETATION: Spectrum = [0.035, 0.07, 0.045, 0.36];
const SOIL: Spectrum = [0.1, 0.14, 0.19, 0.27];
const CLOUD: Spectrum = [0.8, 0.78, 0.76, 0.72];
/** Shadowed surfaces keep roughly a third of the direct light. */
const SHADOW_FACTOR = 0.35;
/** Sensor noise (reflectance units, one standard deviation): enough that classes overlap a little. */
const NOISE_SIGMA = 0.02;

/** Noise streams: each field draws from its own derived seed so adding one never shifts another. */
const Stream = { terrain: 1, vegetation: 2, turbidity: 3, cloud: 4, layout: 5, sensor: 6, shade: 7 } as const;

export function generateScene(options: SceneOptions): Scene {
  const { seed, width, height } = options;
  const cloudiness = options.cloudiness ?? 0.3;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 8 || height < 8) {
    throw new RangeError(`scene size must be whole pixels, at least 8×8 (got ${width}×${height})`);
  }
  if (!(cloudiness >= 0 && cloudiness <= 1)) throw new RangeError(`cloudiness must be within 0..1 (got ${cloudiness})`);

  const size = Math.min(width, height);
  const terrain = fbm(deriveSeed(seed, Stream.terrain), width, height, size / 2.5, 4);
  const vegetation = fbm(deriveSeed(seed, Stream.vegetation), width, height, size / 5, 3);
  const turbidity = fbm(deriveSeed(seed, Stream.turbidity), width, height, size / 4, 2);
  const cloud = fbm(deriveSeed(seed, Stream.cloud), width, height, size / 3, 5);
  // Shadow depth varies (penumbra, scattered light), and each scene has its own illumination.
  const shade = fbm(deriveSeed(seed, Stream.shade), width, height, size / 6, 2);

  const layout = createPrng(deriveSeed(seed, Stream.layout));
  // Thresholds are quantiles of the fields, so every scene has the shares it asks for.
  const waterLevel = quantile(terrain, layout.range(0.2, 0.4));
  const thinLevel = cloudiness > 0 ? quantile(cloud, 1 - cloudiness) : Infinity;
  const thickLevel = cloudiness > 0 ? quantile(cloud, 1 - cloudiness * 0.45) : Infinity;
  const cloudTop = quantile(cloud, 1);

  // Shadows fall away from the sun: the thick-cloud mask shifted by 10–16 % of the scene size.
  const sunAngle = layout.range(0, 2 * Math.PI);
  const shadowLength = Math.max(3, size * layout.range(0.1, 0.16));
  const shadowDx = Math.round(Math.cos(sunAngle) * shadowLength);
  const shadowDy = Math.round(Math.sin(sunAngle) * shadowLength);

  const swath = swathEdge(layout, width, height);
  const illumination = layout.range(0.85, 1.15);

  const n = width * height;
  const bands: SceneBands = {
    blue: new Float32Array(n),
    green: new Float32Array(n),
    red: new Float32Array(n),
    nir: new Float32Array(n),
  };
  const groundTruth = new Uint8Array(n);
  const water = new Uint8Array(n);
  const out = [bands.blue, bands.green, bands.red, bands.nir] as const;
  const sensor = createPrng(deriveSeed(seed, Stream.sensor));
  const pixel = [0, 0, 0, 0];

  for (let y = 0; y < height; y++) {
    const edge = swath.edgeAt(y);
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (swath.left ? x < edge : x >= width - edge) {
        for (const band of out) band[i] = NaN;
        groundTruth[i] = SceneClass.fill;
        continue;
      }
      const isWater = terrain[i]! < waterLevel;
      if (isWater) mix(pixel, WATER_CLEAR, WATER_TURBID, turbidity[i]!);
      else mix(pixel, SOIL, VEGETATION, smooth01((vegetation[i]! - 0.3) / 0.4));
      water[i] = isWater ? 1 : 0;
      let label: number = SceneClass.clear;

      const c = cloud[i]!;
      const sx = x - shadowDx;
      const sy = y - shadowDy;
      const inShadow = sx >= 0 && sx < width && sy >= 0 && sy < height && cloud[sy * width + sx]! >= thickLevel;
      if (c >= thickLevel) {
        // Thick cloud: opaque; its texture comes from the cloud field itself.
        const brightness = 0.85 + 0.15 * (c - thickLevel) / Math.max(1e-6, cloudTop - thickLevel);
        for (let b = 0; b < 4; b++) pixel[b] = CLOUD[b]! * brightness;
        label = SceneClass.cloud;
      } else {
        if (inShadow) {
          const factor = SHADOW_FACTOR + 0.3 * shade[i]!;
          for (let b = 0; b < 4; b++) pixel[b]! *= factor;
          label = SceneClass.cloudShadow;
        }
        if (c >= thinLevel) {
          // Thin cloud: translucent, from 3 % opacity at its edge (barely visible haze, labelled
          // all the same) to 50 % next to thick cloud.
          const alpha = 0.03 + 0.47 * (c - thinLevel) / Math.max(1e-6, thickLevel - thinLevel);
          for (let b = 0; b < 4; b++) pixel[b] = pixel[b]! * (1 - alpha) + CLOUD[b]! * alpha;
          label = SceneClass.thinCloud;
        }
      }
      for (let b = 0; b < 4; b++) {
        const value = pixel[b]! * illumination + sensor.gaussian() * NOISE_SIGMA;
        out[b]![i] = value < 0 ? 0 : value > 1 ? 1 : value;
      }
      groundTruth[i] = label;
    }
  }
  return { width, height, bands, groundTruth, water };
}

/** A slanted swath edge on the left or right: nodata covers 3–15 % of each row's width. */
function swathEdge(prng: Prng, width: number, height: number): { left: boolean; edgeAt(y: number): number } {
  const left = prng.next() < 0.5;
  const top = prng.range(0.03, 0.15);
  const bottom = prng.range(0.03, 0.15);
  return {
    left,
    edgeAt: (y) => Math.max(1, Math.round(width * (top + (bottom - top) * (y / Math.max(1, height - 1))))),
  };
}

function mix(target: number[], a: Spectrum, b: Spectrum, t: number): void {
  const w = t < 0 ? 0 : t > 1 ? 1 : t;
  for (let k = 0; k < 4; k++) target[k] = a[k]! * (1 - w) + b[k]! * w;
}

function smooth01(t: number): number {
  const c = t < 0 ? 0 : t > 1 ? 1 : t;
  return c * c * (3 - 2 * c);
}

/**
 * Fractal value noise in [0, 1]: `octaves` layers of smoothly interpolated random lattices, each
 * with half the cell size and half the weight of the previous one.
 */
export function fbm(seed: number, width: number, height: number, baseCell: number, octaves: number): Float32Array {
  const prng = createPrng(seed);
  const field = new Float32Array(width * height);
  let cell = Math.max(2, baseCell);
  let weight = 1;
  let totalWeight = 0;
  for (let o = 0; o < octaves; o++) {
    addValueNoise(prng, field, width, height, cell, weight);
    totalWeight += weight;
    cell = Math.max(2, cell / 2);
    weight /= 2;
  }
  for (let i = 0; i < field.length; i++) field[i] = field[i]! / totalWeight;
  return field;
}

function addValueNoise(prng: Prng, field: Float32Array, width: number, height: number, cell: number, weight: number): void {
  // A random sub-cell offset keeps the lattices of successive octaves from lining up.
  const offsetX = prng.next() * cell;
  const offsetY = prng.next() * cell;
  const latticeW = Math.ceil((width + offsetX) / cell) + 2;
  const latticeH = Math.ceil((height + offsetY) / cell) + 2;
  const lattice = new Float32Array(latticeW * latticeH);
  for (let i = 0; i < lattice.length; i++) lattice[i] = prng.next();

  // Column positions are the same for every row: compute them once.
  const column = new Int32Array(width);
  const columnT = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const gx = (x + offsetX) / cell;
    const ix = Math.floor(gx);
    column[x] = ix;
    columnT[x] = fade(gx - ix);
  }
  for (let y = 0; y < height; y++) {
    const gy = (y + offsetY) / cell;
    const iy = Math.floor(gy);
    const ty = fade(gy - iy);
    const row0 = iy * latticeW;
    const row1 = row0 + latticeW;
    const base = y * width;
    for (let x = 0; x < width; x++) {
      const ix = column[x]!;
      const tx = columnT[x]!;
      const top = lattice[row0 + ix]! + (lattice[row0 + ix + 1]! - lattice[row0 + ix]!) * tx;
      const bottom = lattice[row1 + ix]! + (lattice[row1 + ix + 1]! - lattice[row1 + ix]!) * tx;
      field[base + x]! += (top + (bottom - top) * ty) * weight;
    }
  }
}

function fade(t: number): number {
  return t * t * (3 - 2 * t);
}

/** Approximate quantile q (0..1) of a field from an evenly strided sample (deterministic). */
function quantile(field: Float32Array, q: number): number {
  const stride = Math.max(1, Math.floor(field.length / 20_000));
  const sample = new Float32Array(Math.ceil(field.length / stride));
  for (let i = 0, j = 0; i < field.length; i += stride, j++) sample[j] = field[i]!;
  sample.sort();
  const index = Math.min(sample.length - 1, Math.max(0, Math.round(q * (sample.length - 1))));
  return sample[index]!;
}
