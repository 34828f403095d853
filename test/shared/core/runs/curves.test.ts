import { describe, expect, it } from "vitest";
import { epochCurves } from "../../../../shared/core/runs/curves.ts";
import { epochCharts, lineChart } from "../../../../shared/dashboard/curves.ts";

describe("per-epoch curves from a trainer's history", () => {
  it("reads loss, valLoss, mIoU and pixel accuracy per epoch, in epoch order", () => {
    const curves = epochCurves({
      history: [
        { epoch: 2, loss: 0.5, valLoss: 0.6, mIoU: 0.4, pixelAccuracy: 0.8, learningRate: 0.001 },
        { epoch: 1, loss: 0.9, valLoss: 0.95, mIoU: 0.2, pixelAccuracy: 0.6 },
      ],
    });
    expect(curves.map((c) => c.metric)).toEqual(["loss", "valLoss", "mIoU", "pixelAccuracy"]);
    expect(curves[0]!.points).toEqual([{ epoch: 1, value: 0.9 }, { epoch: 2, value: 0.5 }]);
  });

  it("leaves out what is not a number or has no epoch, and the later record of a repeated epoch wins", () => {
    const curves = epochCurves({
      history: [{ epoch: 1, loss: 0.9, mIoU: null }, { epoch: 1, loss: 0.8 }, { loss: 0.1 }, { epoch: 0, loss: 2 }, { epoch: 2, loss: "x" }, "junk", null, { epoch: 3, loss: 0.4 }],
    });
    expect(curves).toEqual([{ metric: "loss", points: [{ epoch: 1, value: 0.8 }, { epoch: 3, value: 0.4 }] }]);
    expect(epochCurves({ history: "none" })).toEqual([]);
    expect(epochCurves(null)).toEqual([]);
  });
});

describe("the line chart", () => {
  it("draws one point per epoch with its value, a path when there are two or more, and a title", () => {
    const svg = lineChart([{ name: "loss", style: 0, curve: { metric: "loss", points: [{ epoch: 1, value: 0.9 }, { epoch: 2, value: 0.5 }] } }], { title: "Loss <per> epoch", id: "t" }).value;
    expect(svg.match(/<circle class="dot" data-epoch="\d" data-value="[\d.]+"/g)).toHaveLength(2);
    expect(svg).toContain(`data-epoch="2" data-value="0.5"`);
    expect(svg).toMatch(/<path class="curve" d="M[\d.]+,[\d.]+ L[\d.]+,[\d.]+"/);
    expect(svg).toContain("<title id=\"t\">Loss &lt;per&gt; epoch</title>");
    expect(svg).not.toContain("NaN");
  });

  it("puts two runs on the same charts, the second dashed, and draws nothing without a history", () => {
    const curves = epochCurves({ history: [{ epoch: 1, loss: 1, mIoU: 0.3 }, { epoch: 2, loss: 0.7, mIoU: 0.5 }] });
    const charts = epochCharts([{ label: "A", curves }, { label: "B", curves }], "c").map((c) => c.value);
    expect(charts).toHaveLength(2);
    expect(charts[0]).toContain(`data-series="A loss"`);
    expect(charts[0]).toMatch(/class="series s0 dashed" data-series="B loss"/);
    expect(charts[1]).toContain(`data-series="B mIoU"`);
    expect(epochCharts([{ label: "A", curves: [] }], "c")).toEqual([]);
  });
});
