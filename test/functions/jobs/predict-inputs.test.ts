import { describe, expect, it } from "vitest";
import { maskNames, relativeInputs } from "../../../functions/jobs/predict/inputs.ts";
import { ClassPixelTally } from "../../../functions/jobs/predict/tally.ts";

describe("predict job inputs", () => {
  it("lists objects below the prefix, sorted, without folder placeholders or the run's own outputs", () => {
    const listed = ["gs://a/in/b.zip", "gs://a/in/", "gs://a/in/out/run1/x.png", "gs://a/in/2026/c.tif", "gs://a/in/a.png"];
    expect(relativeInputs(listed, "gs://a/in/", "gs://a/in/out/run1/")).toEqual([
      { uri: "gs://a/in/2026/c.tif", relative: "2026/c.tif" },
      { uri: "gs://a/in/a.png", relative: "a.png" },
      { uri: "gs://a/in/b.zip", relative: "b.zip" },
    ]);
    // A prefix that is not a folder names inputs from its last folder.
    expect(relativeInputs(["gs://a/in/scene_1.zip"], "gs://a/in/scene", "gs://m/p/")).toEqual([{ uri: "gs://a/in/scene_1.zip", relative: "scene_1.zip" }]);
  });

  it("names each mask after its input, keeping the extension only where two inputs would collide", () => {
    expect(maskNames(["2026/c.tif", "a.png", "s.zip", "s.tif", "noext", "dir.v2/noext2"])).toEqual([
      "2026/c.png", "a.png", "s.zip.png", "s.tif.png", "noext.png", "dir.v2/noext2.png",
    ]);
  });

  it("weights class fractions by valid pixels", () => {
    const tally = new ClassPixelTally();
    tally.add({ validPixels: 100, classFractions: { Clear: 1, Cloud: 0 } });
    tally.add({ validPixels: 300, classFractions: { Clear: 0.5, Cloud: 0.5 } });
    tally.add({ validPixels: 0, classFractions: { Clear: 0, Cloud: 0 } });
    expect(tally.fractions()).toEqual({ Clear: 250 / 400, Cloud: 150 / 400 });
  });
});
