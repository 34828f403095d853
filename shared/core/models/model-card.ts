import * as z from "zod";

/**
 * The model card (`model.json`) every trainer writes next to `model.onnx`. The evaluator reads
 * inputs and outputs from it and refuses a model whose ONNX graph disagrees.
 *
 * Output formats by task:
 * - segmentation: `logits` [N,C,H,W] or `labels` [N,H,W]
 * - detection: `yolo_raw` [N,4+C,A] (cx,cy,w,h then class scores; decoded + NMS by us) or `nms` [N,K,6]
 *   (x1,y1,x2,y2,score,class)
 * - classification: `logits` [N,C]
 */
export const BAND_NAMES = ["red", "green", "blue", "nir"] as const;
export type BandName = (typeof BAND_NAMES)[number];

export const ModelCardSchema = z
  .object({
    schema: z.literal("model-card/v1").default("model-card/v1"),
    name: z.string().min(1),
    task: z.enum(["segmentation", "detection", "classification"]),
    classes: z.array(z.string().min(1)).min(1),
    input: z.object({
      name: z.string().min(1),
      layout: z.enum(["NCHW", "NHWC"]),
      /** Fixed input size, or null when the model accepts any size (fully convolutional). */
      height: z.number().int().positive().nullable(),
      width: z.number().int().positive().nullable(),
      /** Which band feeds each input channel, in channel order. */
      channels: z.array(z.enum(BAND_NAMES)).min(1),
      dtype: z.enum(["float32", "uint8"]).default("float32"),
      /** value = (pixel * scale - mean[c]) / std[c], pixel being the 0–255 sample. */
      normalisation: z
        .object({
          scale: z.number().positive().default(1 / 255),
          mean: z.array(z.number()).optional(),
          std: z.array(z.number().positive()).optional(),
        })
        .default({ scale: 1 / 255 }),
      /** Detection: letterbox to the fixed size (keep aspect, pad with this value 0–255). */
      letterboxPad: z.number().min(0).max(255).default(114),
    }),
    output: z.object({
      name: z.string().min(1),
      format: z.enum(["logits", "labels", "yolo_raw", "nms"]),
      /** Detection: score threshold and NMS IoU used when decoding raw output. */
      scoreThreshold: z.number().min(0).max(1).default(0.001),
      nmsIou: z.number().min(0).max(1).default(0.7),
      maxDetections: z.number().int().positive().default(300),
    }),
    /** Segmentation: label value that marks pixels to ignore (nodata). */
    ignoreIndex: z.number().int().min(0).max(255).default(255),
    trainer: z
      .object({ name: z.string(), version: z.string().optional(), params: z.record(z.string(), z.unknown()).optional() })
      .optional(),
    dataset: z.object({ versionId: z.string(), line: z.string().optional() }).optional(),
    createdAt: z.string().optional(),
  })
  .superRefine((card, ctx) => {
    const allowed: Record<string, string[]> = {
      segmentation: ["logits", "labels"],
      detection: ["yolo_raw", "nms"],
      classification: ["logits"],
    };
    if (!allowed[card.task]?.includes(card.output.format)) {
      ctx.addIssue({
        code: "custom",
        path: ["output", "format"],
        message: `${card.task} models output ${allowed[card.task]?.join(" or ")}, not ${card.output.format}`,
      });
    }
    const n = card.input.channels.length;
    for (const key of ["mean", "std"] as const) {
      const v = card.input.normalisation[key];
      if (v && v.length !== n) {
        ctx.addIssue({ code: "custom", path: ["input", "normalisation", key], message: `needs ${n} values (one per channel)` });
      }
    }
    if (card.task === "detection" && (card.input.height === null || card.input.width === null)) {
      ctx.addIssue({ code: "custom", path: ["input"], message: "detection models need a fixed input size for letterboxing" });
    }
  });

export type ModelCard = z.infer<typeof ModelCardSchema>;
