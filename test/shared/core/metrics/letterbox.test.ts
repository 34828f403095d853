import { describe, expect, it } from "vitest";
import { letterbox, letterboxBox, roundHalfEven, unletterboxBox } from "../../../../shared/core/metrics/letterbox.ts";

describe("letterbox", () => {
  it("fits a wide image to the width and pads top and bottom equally", () => {
    // 1280×720 → 640×640: scale = min(640/1280, 640/720) = .5 → 640×360, 280 rows of padding.
    expect(letterbox({ srcWidth: 1280, srcHeight: 720, dstWidth: 640, dstHeight: 640 })).toMatchObject({
      scale: 0.5,
      newWidth: 640,
      newHeight: 360,
      padX: 0,
      padY: 140,
    });
  });

  it("scales small images up and pads a tall image left and right", () => {
    // 240×320 → 640×640: scale = min(640/240, 2) = 2 → 480×640, 160 columns → 80 each side.
    expect(letterbox({ srcWidth: 240, srcHeight: 320, dstWidth: 640, dstHeight: 640 })).toMatchObject({
      scale: 2,
      newWidth: 480,
      newHeight: 640,
      padX: 80,
      padY: 0,
    });
  });

  it("puts the odd padding pixel at the bottom, like round(dh − 0.1) / round(dh + 0.1)", () => {
    // 640×481 → 640×640: no scaling, 159 rows: top 79, bottom 80.
    expect(letterbox({ srcWidth: 640, srcHeight: 481, dstWidth: 640, dstHeight: 640 }).padY).toBe(79);
  });

  it("rounds the resized size half to even, as Python's round()", () => {
    // 1280×721 at scale .5 → 360.5 rows → 360 (even), not 361.
    const lb = letterbox({ srcWidth: 1280, srcHeight: 721, dstWidth: 640, dstHeight: 640 });
    expect([lb.newHeight, lb.padY]).toEqual([360, 140]);
    expect([roundHalfEven(2.5), roundHalfEven(3.5), roundHalfEven(2.4), roundHalfEven(2.6)]).toEqual([2, 4, 2, 3]);
  });

  it("maps a box to model space and back to where it started", () => {
    const lb = letterbox({ srcWidth: 1000, srcHeight: 750, dstWidth: 640, dstHeight: 640 });
    // scale .64 → 640×480, padY 80: source (100, 50)–(300, 400) lands at (64, 112)–(192, 336).
    const model = letterboxBox({ x1: 100, y1: 50, x2: 300, y2: 400 }, lb);
    expect(model.x1).toBeCloseTo(64, 9);
    expect(model.y1).toBeCloseTo(112, 9);
    expect(model.x2).toBeCloseTo(192, 9);
    expect(model.y2).toBeCloseTo(336, 9);
    const back = unletterboxBox(model, lb);
    expect(back.x1).toBeCloseTo(100, 9);
    expect(back.y1).toBeCloseTo(50, 9);
    expect(back.x2).toBeCloseTo(300, 9);
    expect(back.y2).toBeCloseTo(400, 9);
  });

  it("clips boxes reaching into the padding to the source image", () => {
    const lb = letterbox({ srcWidth: 1000, srcHeight: 750, dstWidth: 640, dstHeight: 640 });
    // y 40 is inside the top padding (80 rows) → 0; x 700 is past the image edge → 1000.
    expect(unletterboxBox({ x1: -5, y1: 40, x2: 700, y2: 600 }, lb)).toEqual({ x1: 0, y1: 0, x2: 1000, y2: 750 });
  });

  it("refuses sizes that are not positive integers", () => {
    expect(() => letterbox({ srcWidth: 0, srcHeight: 10, dstWidth: 640, dstHeight: 640 })).toThrow(/srcWidth/);
  });
});
