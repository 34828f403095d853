import { describe, expect, it } from "vitest";
import { DEFAULT_ONTOLOGY } from "../../../../shared/config/schema.ts";
import { generateScene, SceneClass, type Scene } from "../../../../shared/core/demo/scenes.ts";

const BANDS = ["blue", "green", "red", "nir"] as const;

function classCounts(scene: Scene): number[] {
  const counts = new Array<number>(DEFAULT_ONTOLOGY.length).fill(0);
  for (const c of scene.groundTruth) counts[c]!++;
  return counts;
}

/** Surfaces under a clear sky: Clear pixels split by the scene's water mask. */
const LAND = 101;
const WATER = 102;

/** Mean reflectance of one band over the pixels of one class (or clear land / clear water). */
function classMean(scene: Scene, band: (typeof BANDS)[number], cls: number): number {
  let sum = 0;
  let n = 0;
  scene.groundTruth.forEach((c, i) => {
    const surface = c === SceneClass.clear ? (scene.water[i] ? WATER : LAND) : c;
    if (surface !== cls && c !== cls) return;
    sum += scene.bands[band][i]!;
    n++;
  });
  return sum / n;
}

describe("generateScene", () => {
  it("uses the default (seed) ontology's class ids", () => {
    expect(DEFAULT_ONTOLOGY[SceneClass.fill]).toBe("Fill");
    expect(DEFAULT_ONTOLOGY[SceneClass.clear]).toBe("Clear");
    expect(DEFAULT_ONTOLOGY[SceneClass.cloud]).toBe("Cloud");
    expect(DEFAULT_ONTOLOGY[SceneClass.thinCloud]).toBe("Thin_Cloud");
    expect(DEFAULT_ONTOLOGY[SceneClass.cloudShadow]).toBe("Cloud_Shadow");
  });

  it("labels land and water alike as Clear, and keeps the surface in the water mask", () => {
    const scene = generateScene({ seed: 9, width: 128, height: 128 });
    let land = 0;
    let water = 0;
    scene.groundTruth.forEach((c, i) => {
      if (scene.water[i]) expect(c).not.toBe(SceneClass.fill);
      if (c !== SceneClass.clear) return;
      if (scene.water[i]) water++;
      else land++;
    });
    expect(land).toBeGreaterThan(0);
    expect(water).toBeGreaterThan(0);
  });

  it("is deterministic: the same seed gives identical bytes, another seed a different scene", () => {
    const a = generateScene({ seed: 11, width: 96, height: 64 });
    const b = generateScene({ seed: 11, width: 96, height: 64 });
    const c = generateScene({ seed: 12, width: 96, height: 64 });
    for (const band of BANDS) expect(Buffer.from(a.bands[band].buffer).equals(Buffer.from(b.bands[band].buffer))).toBe(true);
    expect(a.groundTruth).toEqual(b.groundTruth);
    expect(Buffer.from(a.bands.red.buffer).equals(Buffer.from(c.bands.red.buffer))).toBe(false);
    expect(a.groundTruth).not.toEqual(c.groundTruth);
  });

  it("contains every class in demo-size scenes, whatever the seed", () => {
    for (const size of [160, 256]) {
      for (let seed = 0; seed < 12; seed++) {
        const counts = classCounts(generateScene({ seed, width: size, height: size }));
        counts.forEach((count, cls) => expect(count, `class ${cls}, seed ${seed}, ${size}²`).toBeGreaterThan(0));
      }
    }
  });

  it("marks nodata exactly where every band is NaN and the ground truth is Fill; elsewhere reflectance is in 0..1", () => {
    const scene = generateScene({ seed: 5, width: 128, height: 96 });
    let nodata = 0;
    for (let i = 0; i < scene.groundTruth.length; i++) {
      const nan = BANDS.map((band) => Number.isNaN(scene.bands[band][i]!));
      if (scene.groundTruth[i] === SceneClass.fill) {
        nodata++;
        expect(nan).toEqual([true, true, true, true]);
      } else {
        expect(nan).toEqual([false, false, false, false]);
        for (const band of BANDS) {
          const v = scene.bands[band][i]!;
          expect(v >= 0 && v <= 1).toBe(true);
        }
      }
    }
    // A swath edge: a few percent of the scene, never all of it.
    expect(nodata / scene.groundTruth.length).toBeGreaterThan(0.02);
    expect(nodata / scene.groundTruth.length).toBeLessThan(0.2);
  });

  it("gives classes roughly physical spectra", () => {
    const scene = generateScene({ seed: 21, width: 200, height: 200 });
    const { cloud: thickCloud, thinCloud, cloudShadow } = SceneClass;
    const [land, water] = [LAND, WATER];
    expect(classMean(scene, "nir", water)).toBeLessThan(classMean(scene, "red", water) + 0.02); // water absorbs NIR
    expect(classMean(scene, "nir", land)).toBeGreaterThan(classMean(scene, "red", land)); // vegetation/soil reflect NIR
    expect(classMean(scene, "nir", water)).toBeLessThan(classMean(scene, "nir", land) / 3);
    for (const band of BANDS) {
      expect(classMean(scene, band, thickCloud)).toBeGreaterThan(0.5); // bright in every band
      expect(classMean(scene, band, thinCloud)).toBeLessThan(classMean(scene, band, thickCloud));
      expect(classMean(scene, band, cloudShadow)).toBeLessThan(classMean(scene, band, land)); // darkened surface
    }
    // Thin cloud is a blend: brighter than clear land in the visible bands.
    expect(classMean(scene, "red", thinCloud)).toBeGreaterThan(classMean(scene, "red", land));
  });

  it("leaves clouds and shadows out when cloudiness is 0", () => {
    const counts = classCounts(generateScene({ seed: 2, width: 128, height: 128, cloudiness: 0 }));
    expect(counts[SceneClass.cloud]).toBe(0);
    expect(counts[SceneClass.thinCloud]).toBe(0);
    expect(counts[SceneClass.cloudShadow]).toBe(0);
    expect(counts[SceneClass.clear]!).toBeGreaterThan(0.8 * 128 * 128);
  });

  it("refuses impossible sizes and cloudiness", () => {
    expect(() => generateScene({ seed: 1, width: 4, height: 64 })).toThrow(RangeError);
    expect(() => generateScene({ seed: 1, width: 64.5, height: 64 })).toThrow(RangeError);
    expect(() => generateScene({ seed: 1, width: 64, height: 64, cloudiness: 1.5 })).toThrow(/cloudiness/);
  });
});
