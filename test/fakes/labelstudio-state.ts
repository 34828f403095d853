/**
 * State and rules of the Label Studio fake (./labelstudio-server.ts). Each rule cites where Label
 * Studio defines it: the API reference (api.labelstud.io), the docs (labelstud.io/guide, /tags) or
 * the server's source (github.com/HumanSignal/label-studio, paths under label_studio/).
 */

export interface FakeAnnotation {
  id: number;
  task: number;
  project: number;
  result: unknown[];
  was_cancelled: boolean;
  ground_truth: boolean;
  completed_by: number;
  created_username: string;
  created_at: string;
  updated_at: string;
}

export interface FakeTask {
  id: number;
  project: number;
  data: Record<string, unknown>;
  meta: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  annotations: FakeAnnotation[];
}

export interface FakePrediction {
  id: number;
  task: number;
  project: number;
  result: unknown[];
  model_version: string;
  score: number | null;
}

export interface FakeProject {
  id: number;
  title: string;
  label_config: string;
  /** tasks/models.py: a task is labelled once it has this many non-cancelled annotations. */
  maximum_annotations: number;
}

export interface FakeControl {
  type: string;
  to_name: string[];
  inputs: { type: string; value: string }[];
  labels: string[];
}

/**
 * `parsed_label_config` (projects/serializers.py get_parsed_label_config): one entry per control
 * tag, keyed by its name, with its `toName`, the object tags it reads and its `<Label value>`s.
 * A regex reader is enough for the configs the tests write.
 */
export function parseLabelConfig(xml: string): Record<string, FakeControl> | null {
  if (!/^\s*<View[\s>]/.test(xml) || !/<\/View>\s*$/.test(xml)) return null;
  const objects = new Map<string, { type: string; value: string }>();
  for (const m of xml.matchAll(/<(Image|Text|Audio|Video)\s+([^>]*?)\/?>/g)) {
    const name = /\bname="([^"]+)"/.exec(m[2]!)?.[1];
    const value = /\bvalue="\$?([^"]+)"/.exec(m[2]!)?.[1];
    if (name && value) objects.set(name, { type: m[1]!, value });
  }
  const controls: Record<string, FakeControl> = {};
  for (const m of xml.matchAll(/<(BrushLabels|Labels|RectangleLabels|PolygonLabels|Choices)\s+([^>]*?)>([\s\S]*?)<\/\1>/g)) {
    const name = /\bname="([^"]+)"/.exec(m[2]!)?.[1];
    const toName = /\btoName="([^"]+)"/.exec(m[2]!)?.[1];
    if (!name || !toName) return null;
    const target = objects.get(toName);
    const labels = [...m[3]!.matchAll(/<(?:Label|Choice)\s+[^>]*?\bvalue="([^"]*)"/g)].map((l) => unescapeXml(l[1]!));
    controls[name] = { type: m[1]!, to_name: [toName], inputs: target ? [{ type: target.type, value: target.value }] : [], labels };
  }
  return controls;
}

const unescapeXml = (s: string) => s.replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

/** The `$variables` of a config: every one must be a key of an imported task's data (data_import/api.py ImportAPI). */
export function dataKeysOf(xml: string): string[] {
  return [...new Set([...xml.matchAll(/\bvalue="\$([A-Za-z0-9_]+)"/g)].map((m) => m[1]!))];
}

/**
 * Checks a prediction's result against the config as LabelInterface.validate_prediction does
 * (label_studio_sdk label_interface; brush values per BrushLabelsValue in control_tags.py:
 * `{format: "rle", rle: [int 0..255, ≥ 1], brushlabels: [label of the control]}`). Returns the
 * problems found.
 */
export function validateResult(result: unknown, controls: Record<string, FakeControl>): string[] {
  if (!Array.isArray(result)) return ["result must be a list"];
  const problems: string[] = [];
  result.forEach((raw, i) => {
    const item = raw as { type?: unknown; from_name?: unknown; to_name?: unknown; value?: { format?: unknown; rle?: unknown; brushlabels?: unknown } };
    const control = typeof item.from_name === "string" ? controls[item.from_name] : undefined;
    if (!control) return problems.push(`result[${i}]: from_name ${String(item.from_name)} is not a control of the config`);
    if (typeof item.to_name !== "string" || !control.to_name.includes(item.to_name)) return problems.push(`result[${i}]: to_name ${String(item.to_name)} is not the control's toName`);
    if (item.type !== control.type.toLowerCase()) return problems.push(`result[${i}]: type ${String(item.type)} does not match control type ${control.type}`);
    if (control.type === "BrushLabels") {
      const v = item.value ?? {};
      if (v.format !== "rle") problems.push(`result[${i}]: value.format must be "rle"`);
      if (!Array.isArray(v.rle) || v.rle.length === 0 || !v.rle.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) problems.push(`result[${i}]: value.rle must be a non-empty list of ints 0..255`);
      if (!Array.isArray(v.brushlabels) || !v.brushlabels.every((l) => control.labels.includes(l as string))) problems.push(`result[${i}]: value.brushlabels must name labels of ${String(item.from_name)}`);
    }
    return undefined;
  });
  return problems;
}
