import { describeError } from "../../errors.ts";
import type { FetchedLabel, LabelRef } from "../../ports.ts";
import { fromEncordLabelRow } from "../../core/annotation/encord-label-row.ts";
import type { Ontology } from "../../core/annotation/ontology.ts";
import type { EncordContext } from "./context.ts";
import { isEncordCode } from "./errors.ts";
import { MultiLabelLimitPayloadSchema } from "./schemas.ts";

/**
 * Fetching labels (docs/encord.md §7.1); which labels to fetch is poll.ts's business.
 *
 * `fetchLabels` reads label rows in multi GETs of at most 100, shrinking the chunk when Encord
 * answers MULTI_LABEL_LIMIT_ERROR, and converts each row to the canonical annotation. A row that
 * will not convert comes back as `{ok: false, error}`: one bad label never hides the others.
 */

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
