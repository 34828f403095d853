/**
 * Ultralytics-style letterboxing (`LetterBox` with `center=True`, `scaleup=True`, `auto=False`):
 * scale the image to fit the model input keeping its aspect ratio, pad the rest evenly (the odd
 * pixel goes right/bottom), and map predicted boxes back (`scale_boxes` + `clip_boxes`).
 */

export interface LetterboxInput {
  srcWidth: number;
  srcHeight: number;
  dstWidth: number;
  dstHeight: number;
}

export interface Letterbox {
  /** Model pixels per source pixel. */
  scale: number;
  /** Left and top padding in model pixels. */
  padX: number;
  padY: number;
  /** Size of the resized image inside the model input. */
  newWidth: number;
  newHeight: number;
  srcWidth: number;
  srcHeight: number;
}

export interface XyxyBox {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** Python's `round()`: halves go to the even neighbour (Ultralytics sizes come from it). */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

export function letterbox({ srcWidth, srcHeight, dstWidth, dstHeight }: LetterboxInput): Letterbox {
  for (const [name, value] of Object.entries({ srcWidth, srcHeight, dstWidth, dstHeight })) {
    if (!Number.isInteger(value) || value <= 0) throw new RangeError(`letterbox: ${name} must be a positive integer, got ${value}`);
  }
  const scale = Math.min(dstWidth / srcWidth, dstHeight / srcHeight);
  // `new_unpad = int(round(w * r)), int(round(h * r))`; the min() guards against a rounding
  // overshoot by one pixel on the constrained side.
  const newWidth = Math.min(dstWidth, roundHalfEven(srcWidth * scale));
  const newHeight = Math.min(dstHeight, roundHalfEven(srcHeight * scale));
  // `left = int(round(dw / 2 - 0.1))`: the floor of half the padding.
  const padX = Math.floor((dstWidth - newWidth) / 2);
  const padY = Math.floor((dstHeight - newHeight) / 2);
  return { scale, padX, padY, newWidth, newHeight, srcWidth, srcHeight };
}

/** Source-pixel position of a model-space box, clipped to the source image. */
export function unletterboxBox(box: XyxyBox, lb: Letterbox): XyxyBox {
  const clip = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  return {
    x1: clip((box.x1 - lb.padX) / lb.scale, lb.srcWidth),
    y1: clip((box.y1 - lb.padY) / lb.scale, lb.srcHeight),
    x2: clip((box.x2 - lb.padX) / lb.scale, lb.srcWidth),
    y2: clip((box.y2 - lb.padY) / lb.scale, lb.srcHeight),
  };
}

/** Model-space position of a source-pixel box (the forward mapping, for tests and drawing). */
export function letterboxBox(box: XyxyBox, lb: Letterbox): XyxyBox {
  return {
    x1: box.x1 * lb.scale + lb.padX,
    y1: box.y1 * lb.scale + lb.padY,
    x2: box.x2 * lb.scale + lb.padX,
    y2: box.y2 * lb.scale + lb.padY,
  };
}
