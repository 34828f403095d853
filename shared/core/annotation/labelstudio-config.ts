import * as z from "zod";

/**
 * The Label Studio labeling config for our ontology, and how to tell whether a project's config
 * binds every class. Label Studio docs: "Semantic Segmentation with Masks" template
 * (labelstud.io/templates/image_segmentation), tags BrushLabels and Label
 * (labelstud.io/tags/brushlabels, labelstud.io/tags/label).
 */

/** The names the generated config gives its tags: results carry them as from_name / to_name. */
export const LS_CONTROL_NAME = "tag";
export const LS_IMAGE_NAME = "image";
/** The task data key of the image (`$image` in the config). */
export const LS_IMAGE_KEY = "image";

/** A distinct, stable colour per class id (Label Studio shows it on the brush and the label). */
const PALETTE = ["#7f7f7f", "#2ca02c", "#1f77b4", "#17becf", "#9467bd", "#d62728", "#ff7f0e", "#8c564b", "#e377c2", "#bcbd22"];

const escapeXml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** `<View><Image/><BrushLabels>` with one `<Label value>` per class, in class-id order. */
export function labelingConfigFor(classNames: readonly string[]): string {
  const labels = classNames.map((name, id) => `    <Label value="${escapeXml(name)}" background="${PALETTE[id % PALETTE.length]}"/>`);
  return [
    "<View>",
    `  <Image name="${LS_IMAGE_NAME}" value="$${LS_IMAGE_KEY}" zoom="true"/>`,
    `  <BrushLabels name="${LS_CONTROL_NAME}" toName="${LS_IMAGE_NAME}">`,
    ...labels,
    "  </BrushLabels>",
    "</View>",
  ].join("\n");
}

/** The parts of `parsed_label_config` read (GET /api/projects/{id}/): one entry per control tag. */
export const ParsedLabelConfigSchema = z.record(
  z.string(),
  z.looseObject({
    type: z.string(),
    to_name: z.array(z.string()).default([]),
    inputs: z.array(z.looseObject({ type: z.string(), value: z.string().nullable().optional() })).default([]),
    labels: z.array(z.string()).default([]),
  }),
);
export type ParsedLabelConfig = z.infer<typeof ParsedLabelConfigSchema>;

export interface LabelStudioBinding {
  /** The BrushLabels control results are read from, or null when the project has none on an Image. */
  control: string | null;
  /** The Image tag it draws on. */
  imageName: string | null;
  /** The task data key the image URL goes into (the Image's `value` without `$`). */
  imageKey: string | null;
  /** Our classes with no Label of the same name (case-sensitive: results carry the label verbatim). */
  missing: string[];
  /** Labels of the control that are not ours (brushes drawn with them are rejected by name). */
  extra: string[];
}

/** Finds a BrushLabels control on an Image and compares its labels with our classes. */
export function bindLabelStudioConfig(parsed: ParsedLabelConfig, classNames: readonly string[]): LabelStudioBinding {
  const brushes = Object.entries(parsed).filter(([, c]) => c.type === "BrushLabels" && c.inputs.some((i) => i.type === "Image"));
  // Prefer the control whose labels cover most of ours (a project may hold several).
  const scored = brushes.map(([name, c]) => ({ name, c, hits: classNames.filter((n) => c.labels.includes(n)).length })).sort((a, b) => b.hits - a.hits);
  const best = scored[0];
  if (!best) return { control: null, imageName: null, imageKey: null, missing: [...classNames], extra: [] };
  const image = best.c.inputs.find((i) => i.type === "Image");
  return {
    control: best.name,
    imageName: best.c.to_name[0] ?? null,
    imageKey: image?.value ? image.value.replace(/^\$/, "") : null,
    missing: classNames.filter((n) => !best.c.labels.includes(n)),
    extra: best.c.labels.filter((l) => !classNames.includes(l)),
  };
}
