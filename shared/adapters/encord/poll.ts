import * as z from "zod";
import { PermanentError } from "../../errors.ts";
import type { LabelRef } from "../../ports.ts";
import type { EncordContext } from "./context.ts";
import { EncordApiError } from "./errors.ts";
import type { LabelRowMetadata } from "./schemas.ts";
import { encordTimeOf, normaliseEncordTime } from "./time.ts";

/**
 * Which finished labels to look at (docs/encord.md §6.2–6.4). A poll must not skip a label, and
 * must cost a bounded amount whatever the size of the project. What the SDK tells us:
 *
 * - `labelrowmetadata` (encord/client.py `list_label_rows`) is the only listing that carries a
 *   row's label hash and `last_edited_at`, and it is not paged: one call returns every match.
 * - Those rows have no time of entering a stage (`LabelRowMetadata`, encord/orm/label_row.py).
 *   Approving a review (encord/workflow/stages/review.py) sends an action, not label content, so
 *   a row approved without an edit reaches Complete with its old `last_edited_at`. "Complete rows
 *   edited after the newest edit seen" misses it for good, and misses a row whose edit is older
 *   than another's but which reaches Complete after the listing (completed while a poll runs).
 * - `edited_after` is documented only as "last edited after" (encord/project.py): strictness and
 *   clock precision are not promised, so nothing here depends on them.
 * - The Complete stage's tasks are paged by token (encord/workflow/common.py `get_tasks`,
 *   FinalStageTask: uuid, dataHash, createdAt, updatedAt), but carry no label hash or edit time.
 *
 * So each poll does two bounded things, and the caller compares every ref's revision
 * (label hash + `last_edited_at`) with the revisions it has stored, fetching only new ones:
 *
 * 1. an edit window: Complete rows edited after the newest edit seen minus `overlapSeconds`. It
 *    finds fresh work at once, and the overlap takes in rows completed while the last poll ran;
 * 2. a sweep: the next `sweepPagesPerPoll` pages of the Complete stage's tasks, and for each page
 *    the label rows of its data hashes (`data_hashes` filter). The sweep resumes where the last
 *    poll stopped and starts over at the end, so every Complete row — approved without an edit,
 *    re-opened and completed again — is seen within ⌈pages ÷ sweepPagesPerPoll⌉ polls; in a
 *    project of up to `sweepPagesPerPoll` pages, by the next poll.
 *
 * Cost per poll: 1 + 2 × sweepPagesPerPoll requests, and the window's rows (those edited since the
 * window start, a few minutes' worth). Label content is fetched only for new revisions.
 *
 * The cursor is `{"v":2,"editedAfter":…,"sweep":…}`; a bare timestamp (the cursor of earlier
 * versions) is read as the window's newest edit. Without a cursor the window starts `overlap`
 * ago and the sweep finds what was completed before.
 */

export interface PollOptions {
  sweepPagesPerPoll: number;
  overlapSeconds: number;
}

export const DEFAULT_POLL_OPTIONS: PollOptions = { sweepPagesPerPoll: 10, overlapSeconds: 600 };

const CursorSchema = z.object({ v: z.literal(2), editedAfter: z.string(), sweep: z.string().nullable() });
type Cursor = z.infer<typeof CursorSchema>;

export async function pollCompleteLabels(ctx: EncordContext, cursor: string | null, options: PollOptions): Promise<{ refs: LabelRef[]; nextCursor: string }> {
  const state = readCursor(ctx, cursor, options);
  const { completeStage, projectHash } = ctx.settings;
  const refs = new Map<string, LabelRef>();
  const add = (rows: readonly LabelRowMetadata[]) => {
    for (const row of rows) {
      const ref = refOf(ctx, row, completeStage);
      if (ref) refs.set(`${ref.labelId}@${ref.editedAt}`, ref);
    }
  };

  const window = await ctx.api.listLabelRowMetadata(projectHash, { editedAfter: state.editedAfter, stageTitle: completeStage, includeClientMetadata: true });
  add(window);

  const stageUuid = await ctx.completeStageUuid();
  let token = state.sweep;
  let pages = 0;
  let tasks = 0;
  while (pages < options.sweepPagesPerPoll) {
    let page: Awaited<ReturnType<typeof ctx.api.listStageTasksPage>>;
    try {
      page = await ctx.api.listStageTasksPage(projectHash, stageUuid, token);
    } catch (err) {
      // A page token is the server's and may expire between polls: start the sweep over.
      if (token === null || !(err instanceof EncordApiError) || err.httpStatus >= 500) throw err;
      ctx.log.warn("Encord refused the sweep's page token; starting the sweep over", { error: err.message });
      token = null;
      continue;
    }
    pages++;
    tasks += page.tasks.length;
    const dataHashes = [...new Set(page.tasks.map((t) => t.dataHash))];
    if (dataHashes.length > 0) add(await ctx.api.listLabelRowMetadata(projectHash, { dataHashes, stageTitle: completeStage, includeClientMetadata: true }));
    token = page.nextPageToken;
    if (token === null) break; // the next poll starts over
  }

  const ordered = [...refs.values()].sort((a, b) => (a.editedAt === b.editedAt ? (a.labelId < b.labelId ? -1 : 1) : a.editedAt < b.editedAt ? -1 : 1));
  const newest = ordered.at(-1)?.editedAt;
  const windowStart = newest ? shift(newest, -options.overlapSeconds) : state.editedAfter;
  const next: Cursor = { v: 2, editedAfter: windowStart > state.editedAfter ? windowStart : state.editedAfter, sweep: token };
  ctx.log.debug("Encord poll", { windowRows: window.length, sweepPages: pages, sweepTasks: tasks, refs: ordered.length, sweepDone: token === null });
  return { refs: ordered, nextCursor: JSON.stringify(next) };
}

function readCursor(ctx: EncordContext, cursor: string | null, options: PollOptions): Cursor {
  if (cursor === null) return { v: 2, editedAfter: encordTimeOf(new Date(ctx.clock.now().getTime() - options.overlapSeconds * 1000)), sweep: null };
  if (cursor.trimStart().startsWith("{")) {
    const parsed = CursorSchema.safeParse(safeJson(cursor));
    const editedAfter = parsed.success ? normaliseEncordTime(parsed.data.editedAfter) : null;
    if (parsed.success && editedAfter) return { ...parsed.data, editedAfter };
  } else {
    const newest = normaliseEncordTime(cursor);
    if (newest) return { v: 2, editedAfter: shift(newest, -options.overlapSeconds), sweep: null };
  }
  throw new PermanentError("encord_bad_cursor", `the Encord poll cursor is neither a timestamp nor a poll state: ${cursor.slice(0, 200)}`);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A normalised time moved by `seconds` (to the millisecond: the window is coarse by design). */
function shift(normalised: string, seconds: number): string {
  return encordTimeOf(new Date(Date.parse(normalised) + seconds * 1000));
}

function refOf(ctx: EncordContext, row: LabelRowMetadata, completeStage: string): LabelRef | null {
  // Rows with no label yet: reading them would make Encord create one (a write, docs/encord.md §7.1).
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
