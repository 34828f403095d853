import { describeError, PermanentError } from "../../errors.ts";
import type { Config } from "../../config/load.ts";
import type { CanonicalAnnotation } from "../../core/annotation/canonical.ts";
import { fromCoco } from "../../core/annotation/coco.ts";
import { fromEncordLabelRow } from "../../core/annotation/encord-label-row.ts";
import { ontologyFromNames } from "../../core/annotation/ontology.ts";
import { baseName, objectUri, stem } from "../../core/uri.ts";
import type { AnnotationBackend, FetchedLabel, LabelRef, Logger, ObjectStore, PrelabelRequest, RegistrationRequest, RegistrationResult } from "../../ports.ts";

/**
 * The "local" annotation backend: a folder inbox in the annotation bucket. Registering an item
 * writes a task file (`tasks/<itemId>.json`) that tells annotators what to label; label files
 * dropped into `inbox/` — Encord label-row JSON or COCO JSON — are picked up by `poll`.
 * Locally the bucket is a folder (`.mlops/buckets/annotation/inbox/`); on GCP it is a prefix of
 * the annotation bucket, so the same backend works there too.
 *
 * The cursor is `<updated ISO>|<object name>`: files updated after it are new. Writers must create
 * files with their real write time (copying with preserved timestamps would hide a file).
 */
export const TASKS_PREFIX = "tasks/";
export const INBOX_PREFIX = "inbox/";

export interface InboxTask {
  itemId: string;
  title: string;
  kind: "product" | "image";
  contentSha256: string;
  images: RegistrationRequest["images"];
  registeredAt: string;
  /** The current model's mask (a class-id PNG at the item's size) for annotators to correct. */
  prelabel?: { uri: string; modelId: string };
  /** Higher first: label the most useful items first (shared/core/prelabel/priority.ts). */
  priority?: number;
}

export function createInboxBackend(deps: { store: ObjectStore; config: Config; log: Logger }): AnnotationBackend {
  const { store, config, log } = deps;
  const bucket = config.buckets.annotation;
  const ontology = ontologyFromNames(config.annotation.ontology);

  return {
    name: "local",

    async register(items: readonly RegistrationRequest[]): Promise<RegistrationResult[]> {
      const results: RegistrationResult[] = [];
      for (const item of items) {
        const name = `${TASKS_PREFIX}${item.itemId}.json`;
        const task: InboxTask = { ...item, registeredAt: new Date().toISOString() };
        // ifAbsent: re-registering (a retried batch) leaves the original task untouched.
        await store.put(objectUri(bucket, name), JSON.stringify(task, null, 2), { contentType: "application/json", ifAbsent: true });
        results.push({ itemId: item.itemId, ok: true, backendRef: name });
      }
      return results;
    },

    /**
     * The task file gains `prelabel` (the mask PNG the caller wrote) and `priority`. Rewriting it
     * with the same fields is harmless, so a repeated call is idempotent; a newer model's call
     * replaces both.
     */
    async prelabel(request: PrelabelRequest): Promise<void> {
      const uri = objectUri(bucket, `${TASKS_PREFIX}${request.itemId}.json`);
      if (!(await store.head(uri))) throw new PermanentError("task_missing", `no task file for item ${request.itemId}: register it first`);
      const task = JSON.parse((await store.get(uri)).toString("utf8")) as InboxTask;
      const updated: InboxTask = { ...task, prelabel: { uri: request.maskUri, modelId: request.modelId }, priority: request.priority };
      await store.put(uri, JSON.stringify(updated, null, 2), { contentType: "application/json" });
    },

    async poll(cursor: string | null): Promise<{ refs: LabelRef[]; nextCursor: string | null }> {
      const objects = (await store.list(objectUri(bucket, INBOX_PREFIX)))
        .filter((o) => o.name.toLowerCase().endsWith(".json"))
        .map((o) => ({ o, key: `${o.updated}|${o.name}` }))
        .filter(({ key }) => cursor === null || key > cursor)
        .sort((a, b) => (a.key < b.key ? -1 : 1));
      const refs = objects.map(({ o }) => ({
        labelId: o.name,
        itemId: null,
        backendRef: null,
        title: stem(baseName(o.name)),
        editedAt: o.updated,
        annotator: null,
      }));
      return { refs, nextCursor: objects.length ? objects[objects.length - 1]!.key : cursor };
    },

    async fetchLabels(refs: readonly LabelRef[]): Promise<FetchedLabel[]> {
      const out: FetchedLabel[] = [];
      for (const ref of refs) {
        let doc: unknown;
        try {
          doc = JSON.parse((await store.get(objectUri(bucket, ref.labelId))).toString("utf8"));
        } catch (err) {
          out.push({ ref, result: { ok: false, error: `unreadable label file ${ref.labelId}: ${describeError(err)}` } });
          continue;
        }
        out.push(...convert(doc, ref));
      }
      return out;
    },
  };

  function convert(doc: unknown, ref: LabelRef): FetchedLabel[] {
    const record = (doc ?? {}) as Record<string, unknown>;
    if ("data_units" in record || "label_hash" in record) {
      const meta = (record.client_metadata ?? {}) as { itemId?: unknown };
      const itemId = typeof meta.itemId === "string" ? meta.itemId : null;
      const title = typeof record.data_title === "string" ? record.data_title : ref.title;
      const converted = fromEncordLabelRow(doc, { itemId: itemId ?? title ?? ref.labelId, ontology });
      const enriched: LabelRef = {
        ...ref,
        itemId,
        title,
        // The revision is the file (its write time, to the millisecond), not the row's own edit
        // time: Encord label rows carry whole seconds, and two saves within a second must both count.
        editedAt: ref.editedAt,
        annotator: converted.ok ? converted.annotation.provenance.annotator : null,
        labelId: typeof record.label_hash === "string" ? record.label_hash : ref.labelId,
      };
      return [{ ref: enriched, result: converted.ok ? { ok: true, annotation: converted.annotation, notes: converted.notes } : { ok: false, error: converted.error } }];
    }
    if ("images" in record && "annotations" in record) {
      let annotations: CanonicalAnnotation[];
      try {
        annotations = fromCoco(doc, ontology, { backend: "local", editedAt: ref.editedAt });
      } catch (err) {
        return [{ ref, result: { ok: false, error: describeError(err) } }];
      }
      return annotations.map((annotation) => ({
        // One file may label many images: each becomes its own label, named after its image.
        ref: { ...ref, labelId: `${ref.labelId}#${annotation.itemId}`, title: titleOf(annotation.itemId), itemId: null, annotator: annotation.provenance.annotator },
        result: { ok: true as const, annotation },
      }));
    }
    log.warn("label file in an unknown format", { labelId: ref.labelId });
    return [{ ref, result: { ok: false, error: `label file ${ref.labelId} is neither an Encord label row nor a COCO file` } }];
  }
}

/** `demo-0001_rgb.png` → `demo-0001`: COCO files name the image annotators saw, not the product. */
function titleOf(fileName: string): string {
  return stem(baseName(fileName)).replace(/_(rgb|nir)$/, "");
}
