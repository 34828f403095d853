import * as z from "zod";

/**
 * Encord attribute answers (docs/encord.md §7.6) ⇄ canonical `attributes` (name → value).
 *
 * Without the editor ontology a radio answer cannot be told from a checklist with one box ticked,
 * so both stay arrays of option names; text stays a string and numeric a number. Writing back
 * maps arrays to option lists, strings to text and numbers to numeric answers, so canonical
 * attributes survive a round trip through a label row unchanged.
 */

export const AttributeAnswerSchema = z.object({
  name: z.string(),
  value: z.string().optional(),
  featureHash: z.string().optional(),
  answers: z.unknown(),
});
export type AttributeAnswer = z.infer<typeof AttributeAnswerSchema>;

const OptionSchema = z.object({ name: z.string() });

/** Attribute answers as a name → value record, or undefined when there are none. First answer per name wins. */
export function answersToAttributes(answers: readonly AttributeAnswer[]): Record<string, unknown> | undefined {
  if (answers.length === 0) return undefined;
  const attributes: Record<string, unknown> = {};
  for (const answer of answers) {
    if (Object.hasOwn(attributes, answer.name)) continue;
    attributes[answer.name] = answerValue(answer.answers);
  }
  return attributes;
}

function answerValue(answers: unknown): unknown {
  if (!Array.isArray(answers)) return answers ?? null;
  return answers.map((option) => {
    const parsed = OptionSchema.safeParse(option);
    return parsed.success ? parsed.data.name : option;
  });
}

/** The option names of single-option answers (radio, or a checklist with one tick), in order. */
export function singleOptionNames(answers: readonly AttributeAnswer[]): string[] {
  const names: string[] = [];
  for (const answer of answers) {
    if (!Array.isArray(answer.answers) || answer.answers.length !== 1) continue;
    const parsed = OptionSchema.safeParse(answer.answers[0]);
    if (parsed.success) names.push(parsed.data.name);
  }
  return names;
}

/** Attribute answers in Encord's wire shape for canonical attributes. */
export function attributesToAnswers(attributes: Record<string, unknown> | undefined): (AttributeAnswer & { manualAnnotation: boolean })[] {
  if (!attributes) return [];
  return Object.entries(attributes).map(([name, value]) => ({
    name,
    value: snakeCase(name),
    featureHash: `attribute-${snakeCase(name)}`,
    manualAnnotation: true,
    answers: Array.isArray(value)
      ? value.map((option) => ({ name: String(option), value: snakeCase(String(option)), featureHash: `option-${snakeCase(String(option))}` }))
      : typeof value === "string" || typeof value === "number"
        ? value
        : JSON.stringify(value),
  }));
}

/** Encord's `value` field: the display name in snake case. */
export function snakeCase(name: string): string {
  return name.trim().toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
}
