/** The demo's defaults, apart from its driver so `mlops --help` can show them without loading it. */
export interface DemoOptions {
  /** Products to upload. */
  products: number;
  /** Width and height of each generated scene, in pixels. */
  size: number;
  uploadIntervalMs: number;
  /** Share of labels the simulated annotators get wrong (each caught by one quality check). */
  badLabelShare: number;
  /** Delay between an item's registration and its label (uniform in this range). */
  labelDelayMs: [number, number];
  /**
   * Bad uploads: corrupt ones (random bytes named .zip, a truncated TIFF, a zero-byte file) and a
   * copy of the first product under another name (it ends `duplicate`).
   */
  corruptUploads: boolean;
  seed: number;
}

export const DEFAULT_DEMO: DemoOptions = {
  products: 40,
  size: 160,
  uploadIntervalMs: 400,
  badLabelShare: 0.2,
  labelDelayMs: [800, 3000],
  corruptUploads: true,
  seed: 7,
};
