import * as z from "zod";
import { PermanentError } from "../../errors.ts";

/**
 * The project ontology: class ids are indexes into `classes` (config `ONTOLOGY`, a list of names).
 * When the backend is Encord, each class also remembers the Encord ontology object it stands for,
 * so labels are matched by `featureHash` (stable) rather than by display name (editable).
 */
export interface OntologyClass {
  id: number;
  name: string;
  /** Encord ontology object `featureNodeHash` this class maps to. */
  featureNodeHash?: string;
  /** Encord shape of that object (`bitmask`, `polygon`, `bounding_box`, …). */
  shape?: string;
  /**
   * Further Encord objects with the same name (e.g. a `bitmask` and a `polygon` "cloud"): labels
   * drawn with any of them are the same class for training.
   */
  alternateFeatureNodeHashes?: string[];
}

export interface Ontology {
  classes: OntologyClass[];
}

export function ontologyFromNames(names: readonly string[]): Ontology {
  assertUniqueNames(names);
  return { classes: names.map((name, id) => ({ id, name })) };
}

/** Only the parts of Encord's editor ontology (docs/encord.md §7.7) we read. */
const EncordEditorOntologySchema = z.object({
  objects: z
    .array(
      z.object({
        name: z.string(),
        featureNodeHash: z.string().min(1),
        shape: z.string().optional(),
        archived: z.boolean().optional(),
      }),
    )
    .default([]),
});

/**
 * Binds our class names to Encord ontology objects by case-insensitive name. Encord objects whose
 * names are not ours are left out on purpose: labels drawn with them then convert to
 * `classId: null` and quality checks reject them with the name, instead of guessing a class.
 * `editorOntology` may be the object or its JSON text (`ProjectDTO.editorOntology`).
 */
export function ontologyFromEncord(editorOntology: unknown, classNames: readonly string[]): Ontology {
  assertUniqueNames(classNames);
  const classes: OntologyClass[] = classNames.map((name, id) => ({ id, name }));
  const byName = new Map(classes.map((c) => [c.name.toLowerCase(), c]));
  for (const object of parseEditorOntology(editorOntology).objects) {
    const cls = byName.get(object.name.toLowerCase());
    if (!cls) continue;
    if (cls.featureNodeHash === undefined) {
      cls.featureNodeHash = object.featureNodeHash;
      if (object.shape !== undefined) cls.shape = object.shape;
    } else {
      (cls.alternateFeatureNodeHashes ??= []).push(object.featureNodeHash);
    }
  }
  return { classes };
}

export interface OntologyBinding {
  classes: {
    id: number;
    name: string;
    /** The Encord object this class stands for, or null. */
    object: { name: string; shape: string | null; featureNodeHash: string } | null;
    /** Why the class is not usable, or null when it is. */
    problem: string | null;
  }[];
  /** Encord objects (not archived) that no class stands for: labels drawn with them are not ours. */
  unbound: { name: string; shape: string | null }[];
}

/**
 * How our classes bind to a project's Encord objects (same rule as `ontologyFromEncord`: names,
 * case-insensitive), for `mlops backend check`: each class needs an object of one of `shapes`
 * (e.g. `bitmask` for segmentation; null accepts any shape).
 */
export function bindOntology(editorOntology: unknown, classNames: readonly string[], shapes: readonly string[] | null): OntologyBinding {
  const objects = parseEditorOntology(editorOntology).objects.filter((o) => o.archived !== true);
  const wanted = (shape: string | undefined) => shapes === null || (shape !== undefined && shapes.includes(shape));
  const used = new Set<(typeof objects)[number]>();
  const classes = classNames.map((name, id) => {
    const named = objects.filter((o) => o.name.toLowerCase() === name.toLowerCase());
    const match = named.find((o) => wanted(o.shape));
    for (const o of named) used.add(o);
    if (match) return { id, name, object: { name: match.name, shape: match.shape ?? null, featureNodeHash: match.featureNodeHash }, problem: null };
    const need = shapes === null ? "an object" : `a ${shapes.join(" or ")} object`;
    const problem = named.length === 0
      ? `the project's ontology has no object named "${name}": add ${need} named "${name}", or change ONTOLOGY`
      : `"${name}" is ${named.map((o) => `a ${o.shape ?? "shapeless"} object`).join(" and ")} in the project's ontology, not ${need}: add ${need} named "${name}", or change ONTOLOGY`;
    return { id, name, object: null, problem };
  });
  return { classes, unbound: objects.filter((o) => !used.has(o)).map((o) => ({ name: o.name, shape: o.shape ?? null })) };
}

function parseEditorOntology(editorOntology: unknown): z.infer<typeof EncordEditorOntologySchema> {
  let input = editorOntology;
  if (typeof input === "string") {
    try {
      input = JSON.parse(input) as unknown;
    } catch {
      throw new PermanentError("invalid_ontology", "Encord editor ontology is not valid JSON");
    }
  }
  const parsed = EncordEditorOntologySchema.safeParse(input);
  if (!parsed.success) throw new PermanentError("invalid_ontology", `Encord editor ontology: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/**
 * The class id a label refers to, or null when the ontology does not know it.
 *
 * A feature hash, when given, decides: it is what Encord keeps stable across renames. The name is
 * used only for classes not bound to an Encord object (ontology from plain names: the local inbox,
 * COCO/YOLO files) — a label naming a bound class under a different feature hash was drawn with an
 * Encord object we deliberately did not map, so it stays unknown.
 */
export function classIdOf(ontology: Ontology, ref: { featureHash?: string | null; name?: string | null }): number | null {
  if (ref.featureHash) {
    for (const cls of ontology.classes) {
      if (cls.featureNodeHash === ref.featureHash || cls.alternateFeatureNodeHashes?.includes(ref.featureHash)) return cls.id;
    }
  }
  if (ref.name == null) return null;
  const wanted = ref.name.toLowerCase();
  const cls = ontology.classes.find((c) => c.name.toLowerCase() === wanted);
  if (!cls) return null;
  if (ref.featureHash && cls.featureNodeHash !== undefined) return null;
  return cls.id;
}

/** The class with this id, or undefined when the id is outside the ontology. */
export function classById(ontology: Ontology, classId: number | null): OntologyClass | undefined {
  if (classId === null) return undefined;
  const cls = ontology.classes[classId];
  return cls && cls.id === classId ? cls : ontology.classes.find((c) => c.id === classId);
}

/** Names of a no-data fill class (case-insensitive): the seed project's `Fill`, or the older `background`. */
const FILL_CLASS_NAMES: ReadonlySet<string> = new Set(["fill", "background", "nodata", "no_data"]);

/**
 * The id of the no-data fill class (`Fill`; also accepted: background, nodata, no_data), or null.
 * Ontologies put it first (id 0) by convention; quality checks allow only it on nodata pixels.
 */
export function fillClassId(ontology: Ontology): number | null {
  return ontology.classes.find((c) => FILL_CLASS_NAMES.has(c.name.toLowerCase()))?.id ?? null;
}

function assertUniqueNames(names: readonly string[]): void {
  const seen = new Set<string>();
  for (const name of names) {
    const key = name.toLowerCase();
    if (seen.has(key)) throw new PermanentError("invalid_ontology", `ontology names class "${name}" twice (names are case-insensitive)`);
    seen.add(key);
  }
}
