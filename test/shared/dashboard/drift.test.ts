import { describe, expect, it } from "vitest";
import { sampleStatusSnapshot } from "../../../shared/dashboard/fixtures.ts";
import { renderDashboard } from "../../../shared/dashboard/render.ts";
import { elementById } from "./markup.ts";

describe("dashboard drift section", () => {
  it("says when there is no check yet", () => {
    const page = renderDashboard({ ...sampleStatusSnapshot(), drift: null });
    expect(elementById(page, "drift")).toContain("No drift check yet");
  });

  it("plots each feature's PSI, most moved first, and flags drifted ones", () => {
    const snapshot = {
      ...sampleStatusSnapshot(),
      drift: {
        alias: "prod", modelId: "m1", referenceDatasetVersion: "abcdef0123456789", window: { images: 30, referenceImages: 120 }, drifted: true,
        skippedReason: null, checkedAt: "2026-12-03T12:00:00.000Z",
        features: [
          { name: "nir.mean", psi: 0.02, ks: 0.1, ksPValue: 0.7, drifted: false },
          { name: "red.std", psi: 2.4, ks: 0.95, ksPValue: 1e-12, drifted: true },
        ],
      },
    };
    const section = elementById(renderDashboard(snapshot), "drift");
    expect(section).toContain("1 of 2 features drifted");
    expect(section.indexOf("red.std")).toBeLessThan(section.indexOf("nir.mean"));
    expect(section).toContain(`width="120"`); // PSI 2.4 fills the bar
    expect(section).toMatch(/badge bad">drifted/);
  });

  it("shows why a check could not judge", () => {
    const snapshot = { ...sampleStatusSnapshot(), drift: {
      alias: "staging", modelId: null, referenceDatasetVersion: null, window: { images: 0, referenceImages: 0 }, drifted: false,
      skippedReason: "no model holds prod or staging", checkedAt: "2026-12-03T12:00:00.000Z", features: [],
    } };
    expect(elementById(renderDashboard(snapshot), "drift")).toContain("no model holds prod or staging");
  });
});
