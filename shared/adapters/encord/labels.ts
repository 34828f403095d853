import { describeError, PermanentError } from "../../errors.ts";
import type { FetchedLabel, LabelRef } from "../../ports.ts";
import { fromEncordLabelRow } from "../../core/annotation/encord-label-row.ts";
import type { Ontology } from "../../core/annotation/ontology.ts";
import type { EncordContext } from "./context.ts";
import { isEncordCode } from "./errors.ts";
import { MultiLabelLimitPayloadSchema, type LabelRowMetadata } from "./schemas.ts";
import { normaliseEncordTime } from "./time.ts";

/**
 * Polling and fetching labels (encord-api.md §5.5, §6.1).
 *
 * `poll` lists label rows in the Complete stage edited after the cursor. The cursor is Encord's
 * own edit time, normalised with its microseconds (see time.ts); the caller advances it only after
 * processing the batch, so a crash re-reads the batch rather than skipping it.
 *
 * `fetchLabels` reads label rows in multi GETs of at most 100, shrinking the chunk when Encord
 * answers MULTI_LABEL_LIMIT_ERROR, and converts each row to the canonical annotation. A row that
 * will not convert comes back as `{ok: false, error}`: one bad label never hides the others.
 */

export async function pollLabels(ctx: EncordContext, cursor: string | null): Promise<{ refs: LabelRef[]; nextCursor: string | null }> {
  const editedAfter = cursor === null ? null : normaliseEncordTime(cursor);
  if (cursor !== null && editedAfter === null) throw new PermanentError("encord_bad_cursor", `the Encord poll cursor is not a timestamp: ${cursor}`);
  const { completeStage, projectHash } = ctx.settings;
  const rows = await ctx.api.listLabelRowMetadata(projectHash, { editedAfter, stageTitle: completeStage, includeClientMetadata: true });
  const refs: LabelRef[] = [];
  for (const row of rows) {
    const ref = refOf(ctx, row, completeStage);
    // Strictly after the cursor, whatever the server's comparison: the cursor's row was processed.
    if (ref && (editedAfter === null || ref.editedAt > editedAfter)) refs.push(ref);
  }
  refs.sort((a, b) => (a.editedAt === b.editedAt ? (a.labelId < b.labelId ? -1 : 1) : a.editedAt < b.editedAt ? -1 : 1));
  const last = refs[refs.length - 1];
  ctx.log.debug("Encord poll", { cursor, rows: rows.length, refs: refs.length });
  return { refs, nextCursor: last ? last.editedAt : cursor };
}

function refOf(ctx: EncordContext, row: LabelRowMetadata, completeStage: string): LabelRef | null {
  // Rows with no label yet: reading them would make Encord create one (a write, §6.1).
  if (!row.label_hash) return null;
  // Defensive: a server that ignored the stage filter must not feed unfinished work to training.
  if (row.workflow_graph_node && row.workflow_graph_node.title !== completeStage) return null;
  const editedAt = normaliseEncordTime(row.last_edited_at ?? row.created_at ?? "");
  if (!editedAt) {
    ctx.log.warn("Encord label row without a readable edit time; skipped", { labelHash: row.label_hash });
    return null;
  }
  const itemId = row.client_metadata.itemId;
  return {
    labelId: row.label_hash,
    itemId: typeof itemId === "string" && itemId !== "" ? itemId : null,
    backendRef: row.backing_item_uuid ?? row.data_hash,
    title: row.data_title,
    editedAt,
    annotator: row.last_actioned_by_user_email ?? row.assigned_user_email ?? null,
  };
}

export async function fetchLabels(ctx: EncordContext, ontology: () => Promise<Ontology>, refs: readonly LabelRef[]): Promise<FetchedLabel[]> {
  if (refs.length === 0) return [];
  const rows = await fetchRows(ctx, [...new Set(refs.map((r) => r.labelId))]);
  const classes = await ontology();
  return refs.map((ref): FetchedLabel => {
    const row = rows.get(ref.labelId);
    if (!row) return { ref, result: { ok: false, error: `Encord returned no label row for ${ref.labelId}` } };
    const metadata = (row.client_metadata ?? {}) as { itemId?: unknown };
    // Same fallback as the local inbox: without our itemId the title identifies the item.
    const itemId = ref.itemId ?? (typeof metadata.itemId === "string" ? metadata.itemId : null) ?? ref.title ?? ref.labelId;
    try {
      const converted = fromEncordLabelRow(row, { itemId, ontology: classes });
      return { ref, result: converted.ok ? { ok: true, annotation: converted.annotation, notes: converted.notes } : { ok: false, error: converted.error } };
    } catch (err) {
      return { ref, result: { ok: false, error: describeError(err) } };
    }
  });
}

async function fetchRows(ctx: EncordContext, labelHashes: readonly string[]): Promise<Map<string, Record<string, unknown>>> {
  const rows = new Map<string, Record<string, unknown>>();
  let offset = 0;
  while (offset < labelHashes.length) {
    const chunk = labelHashes.slice(offset, offset + ctx.labelChunkSize);
    try {
      for (const row of await ctx.api.getLabelRows(ctx.settings.projectHash, chunk)) rows.set(row.label_hash as string, row);
      offset += chunk.length;
    } catch (err) {
      if (!isEncordCode(err, "MULTI_LABEL_LIMIT_ERROR") || chunk.length <= 1) throw err;
      const allowed = MultiLabelLimitPayloadSchema.safeParse(err.payload).data?.maximum_labels_allowed;
      const before = chunk.length;
      // The server's stated maximum when it gives one and it helps, else halve.
      ctx.labelChunkSize = allowed !== undefined && allowed < before ? allowed : Math.max(1, Math.floor(before / 2));
      ctx.log.warn("Encord label-row limit hit; fetching smaller chunks", { from: before, to: ctx.labelChunkSize });
    }
  }
  return rows;
}
