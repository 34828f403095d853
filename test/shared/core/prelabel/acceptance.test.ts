import { describe, expect, it } from "vitest";
import { prelabelAgreement } from "../../../../shared/core/prelabel/acceptance.ts";

describe("pre-label acceptance", () => {
  it("counts the label's pixels that kept the pre-label's class, leaving out the ignored ones", () => {
    const label = Uint8Array.from([0, 1, 1, 255, 2, 2]);
    const prelabel = Uint8Array.from([0, 1, 2, 1, 2, 255]);
    expect(prelabelAgreement(label, prelabel, 255)).toEqual({ keptPixels: 3, comparedPixels: 5 });
    expect(prelabelAgreement(label, label, 255)).toEqual({ keptPixels: 5, comparedPixels: 5 });
    expect(prelabelAgreement(label, prelabel.subarray(1), 255)).toBeNull();
  });
});
