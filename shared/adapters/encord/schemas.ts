import * as z from "zod";

/**
 * zod schemas for the Encord responses the backend reads. The SDK parses responses with pydantic
 * models that accept both camelCase and snake_case (docs/encord.md §3.1 Casing), so each object level
 * here does the same: keys are renamed to one casing before validation. Unknown keys pass through.
 */

const toCamel = (key: string) => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const toSnake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function renameKeys(value: unknown, rename: (key: string) => string): unknown {
  if (!value || typeof value !== "object" || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const renamed = rename(key);
    // When both spellings arrive, the canonical one wins.
    if (renamed === key || !(renamed in value)) out[renamed] = v;
  }
  return out;
}

/** An object whose keys may arrive in either casing; validated in camelCase (v2). */
export function camelObject<T extends z.ZodRawShape>(shape: T) {
  return z.preprocess((v) => renameKeys(v, toCamel), z.looseObject(shape));
}

/** An object whose keys may arrive in either casing; validated in snake_case (v1). */
export function snakeObject<T extends z.ZodRawShape>(shape: T) {
  return z.preprocess((v) => renameKeys(v, toSnake), z.looseObject(shape));
}

export function pageOf<T extends z.ZodType>(item: T) {
  return camelObject({ results: z.array(item), nextPageToken: z.string().nullish() });
}

/** Client metadata arrives as a JSON string (storage) or an object (label-row metadata). */
export const ClientMetadataSchema = z
  .union([z.string(), z.record(z.string(), z.unknown()), z.null()])
  .optional()
  .transform((v): Record<string, unknown> => {
    if (v == null) return {};
    if (typeof v !== "string") return v;
    try {
      const parsed = JSON.parse(v) as unknown;
      return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  });

export const CloudIntegrationsSchema = camelObject({
  result: z.array(camelObject({ integrationUuid: z.string().min(1), title: z.string() })),
});

export const StorageFolderSchema = camelObject({
  uuid: z.string().min(1),
  name: z.string(),
  parent: z.string().nullish(),
});
export type StorageFolder = z.infer<typeof StorageFolderSchema>;

export const StorageItemSchema = camelObject({
  uuid: z.string().min(1),
  name: z.string(),
  itemType: z.string().optional(),
  url: z.string().nullish(),
  clientMetadata: ClientMetadataSchema,
});
export type StorageItem = z.infer<typeof StorageItemSchema>;

export const UploadJobIdSchema = z.union([
  z.string().min(1),
  // Tolerate an object wrapper should the server ever send one.
  camelObject({ uploadJobId: z.string().min(1) }).transform((o) => o.uploadJobId),
]);

export const UploadJobStateSchema = camelObject({
  status: z.enum(["PENDING", "DONE", "ERROR", "CANCELLED"]),
  itemsWithNames: z.array(camelObject({ itemUuid: z.string().min(1), name: z.string() })).nullish().transform((v) => v ?? []),
  errors: z.array(z.string()).nullish().transform((v) => v ?? []),
  unitsPendingCount: z.number().nullish(),
  unitsDoneCount: z.number().nullish(),
  unitsErrorCount: z.number().nullish(),
  unitErrors: z
    .array(camelObject({ objectUrls: z.array(z.string()).nullish().transform((v) => v ?? []), error: z.string() }))
    .nullish()
    .transform((v) => v ?? []),
});
export type UploadJobState = z.infer<typeof UploadJobStateSchema>;

export const WorkflowStageSchema = camelObject({ stageType: z.string(), uuid: z.string(), title: z.string() });
export type WorkflowStage = z.infer<typeof WorkflowStageSchema>;

export const ProjectSchema = camelObject({
  projectHash: z.string().min(1),
  title: z.string(),
  editorOntology: z.unknown(),
  workflow: camelObject({ stages: z.array(WorkflowStageSchema) }).nullish(),
});
export type Project = z.infer<typeof ProjectSchema>;

/** A task of a workflow stage (`encord/workflow/common.py` WorkflowTask; FinalStageTask adds data fields). */
export const WorkflowTaskSchema = camelObject({
  uuid: z.string().min(1),
  dataHash: z.string().min(1),
  dataTitle: z.string().nullish(),
  updatedAt: z.string().nullish(),
});
export type WorkflowTask = z.infer<typeof WorkflowTaskSchema>;

export const ProjectDatasetSchema = camelObject({ datasetHash: z.string().min(1), title: z.string().nullish() });

const nullableString = z.string().nullish().transform((v) => v ?? null);

/** One entry of v1 `labelrowmetadata` (docs/encord.md §6.3). */
export const LabelRowMetadataSchema = snakeObject({
  label_hash: nullableString,
  data_hash: z.string().min(1),
  data_title: nullableString,
  data_type: nullableString,
  created_at: nullableString,
  last_edited_at: nullableString,
  backing_item_uuid: nullableString,
  client_metadata: ClientMetadataSchema,
  workflow_graph_node: snakeObject({ uuid: z.string().nullish(), title: z.string() }).nullish(),
  assigned_user_email: nullableString,
  last_actioned_by_user_email: nullableString,
});
export type LabelRowMetadata = z.infer<typeof LabelRowMetadataSchema>;

/** A label row as `labelrow` GET returns it; the converter validates its inside. */
export const LabelRowSchema = z.looseObject({ label_hash: z.string().min(1) });

export const MultiLabelLimitPayloadSchema = z
  .looseObject({ maximum_labels_allowed: z.coerce.number().int().positive().optional() })
  .nullish();
