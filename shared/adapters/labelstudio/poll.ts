import * as z from "zod";
import type { LabelRef } from "../../ports.ts";
import type { LsAnnotation, LsTask, TaskQuery } from "./api.ts";
import type { LabelStudioContext } from "./context.ts";
import { itemIdOf } from "./register.ts";

/**
 * Which finished annotations to look at. A poll must not skip one, and must cost a bounded amount
 * whatever the size of the project. What Label Studio offers (label_studio/tasks/models.py,
 * data_manager/api.py; api.labelstud.io "List tasks"):
 *
 * - GET /api/tasks/?project=&fields=all lists tasks with their annotations, paged by `page` and
 *   `page_size`, answering `{total, tasks}`;
 * - saving or deleting an annotation bumps its task's `updated_at`, so "tasks updated after W"
 *   finds fresh work; but the Data-Manager filter syntax is not a promised contract, and a task
 *   updated while a poll runs may be missed by a window that moved past it;
 * - paging ordered by `updated_at` is unsafe (rows move between pages while people work); by id
 *   it is stable, as new tasks append at the end.
 *
 * So each poll does two bounded things, and the caller drops revisions (annotation id +
 * `updated_at`) it has processed already (label_revisions), fetching nothing twice:
 *
 * 1. a window: tasks updated after the newest task update seen minus `overlapSeconds`, ordered by
 *    id, at most `windowPagesPerPoll` pages (when it is cut short, the window does not advance);
 * 2. a sweep: the next `sweepPagesPerPoll` pages of all tasks by id, resuming where the last poll
 *    stopped and starting over at the end, so every annotation is seen within ⌈pages ÷
 *    sweepPagesPerPoll⌉ polls even if the filter were ignored or a window missed it.
 *
 * "Finished": an annotation that was not cancelled (skipped) on a task that is labelled
 * (`is_labeled`: as many annotations as the project's overlap asks for). Each annotation is its
 * own label: with an overlap above 1, every annotator's work is taken in and the latest edit
 * decides the item's state.
 */

export interface PollOptions {
  pageSize: number;
  windowPagesPerPoll: number;
  sweepPagesPerPoll: number;
  overlapSeconds: number;
}

export const DEFAULT_POLL_OPTIONS: PollOptions = { pageSize: 100, windowPagesPerPoll: 10, sweepPagesPerPoll: 5, overlapSeconds: 600 };

const CursorSchema = z.object({ v: z.literal(1), updatedAfter: z.string().nullable(), sweepPage: z.number().int().min(1) });
type Cursor = z.infer<typeof CursorSchema>;

/** What a poll saw of each annotation, so fetchLabels need not ask again. */
export type SeenAnnotations = Map<string, { annotation: LsAnnotation; task: LsTask }>;

export async function pollFinished(ctx: LabelStudioContext, cursor: string | null, options: PollOptions, seen: SeenAnnotations): Promise<{ refs: LabelRef[]; nextCursor: string }> {
  const project = await ctx.project();
  const state = readCursor(cursor);
  const refs = new Map<string, LabelRef>();
  let newestUpdate: string | null = null;
  const take = (tasks: readonly LsTask[]) => {
    for (const task of tasks) {
      if (task.updated_at && (newestUpdate === null || Date.parse(task.updated_at) > Date.parse(newestUpdate))) newestUpdate = task.updated_at;
      for (const ref of refsOf(task, seen)) refs.set(`${ref.labelId}@${ref.editedAt}`, ref);
    }
  };

  // 1. The window.
  const since = state.updatedAfter ? new Date(Date.parse(state.updatedAfter) - options.overlapSeconds * 1000).toISOString() : null;
  const windowQuery: TaskQuery = {
    ordering: ["tasks:id"],
    ...(since ? { filters: { conjunction: "and", items: [{ filter: "filter:tasks:updated_at", operator: "greater", type: "Datetime", value: since }] } } : {}),
  };
  let windowComplete = false;
  for (let page = 1; page <= options.windowPagesPerPoll; page++) {
    const { tasks, last } = await ctx.api.taskPage(project.id, page, options.pageSize, { all: true, query: windowQuery });
    take(tasks);
    if (last) {
      windowComplete = true;
      break;
    }
  }

  // 2. The sweep.
  let sweepPage = state.sweepPage;
  for (let n = 0; n < options.sweepPagesPerPoll; n++) {
    const { tasks, last } = await ctx.api.taskPage(project.id, sweepPage, options.pageSize, { all: true, query: { ordering: ["tasks:id"] } });
    take(tasks);
    sweepPage = last ? 1 : sweepPage + 1;
    if (last) break; // the next poll starts over
  }

  const ordered = [...refs.values()].sort((a, b) => Date.parse(a.editedAt) - Date.parse(b.editedAt) || (a.labelId < b.labelId ? -1 : 1));
  const next: Cursor = { v: 1, updatedAfter: windowComplete ? newer(newestUpdate, state.updatedAfter) : state.updatedAfter, sweepPage };
  ctx.log.debug("Label Studio poll", { refs: ordered.length, windowComplete, sweepPage });
  return { refs: ordered, nextCursor: JSON.stringify(next) };
}

function newer(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return Date.parse(a) > Date.parse(b) ? a : b;
}

function readCursor(cursor: string | null): Cursor {
  if (cursor !== null) {
    try {
      const parsed = CursorSchema.safeParse(JSON.parse(cursor));
      if (parsed.success) return parsed.data;
    } catch {
      // Not ours (another backend's cursor after a switch): start over, listing more, never less.
    }
  }
  return { v: 1, updatedAfter: null, sweepPage: 1 };
}

/** Label Studio's timestamps are UTC (`USE_TZ`); a zone-less one is read as UTC. */
export function lsTime(value: string): string | null {
  const withZone = /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`;
  const ms = Date.parse(withZone);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

export function refsOf(task: LsTask, seen?: SeenAnnotations): LabelRef[] {
  if (task.is_labeled === false) return [];
  const out: LabelRef[] = [];
  for (const annotation of task.annotations ?? []) {
    if (annotation.was_cancelled) continue;
    const editedAt = lsTime(annotation.updated_at);
    if (!editedAt) continue;
    const title = task.data.title;
    const ref: LabelRef = {
      labelId: String(annotation.id),
      itemId: itemIdOf(task),
      backendRef: String(task.id),
      title: typeof title === "string" ? title : null,
      editedAt,
      annotator: annotatorOf(annotation),
    };
    seen?.set(`${ref.labelId}@${editedAt}`, { annotation, task });
    out.push(ref);
  }
  return out;
}

function annotatorOf(a: LsAnnotation): string | null {
  const by = a.completed_by;
  if (by && typeof by === "object" && by.email) return by.email;
  if (a.created_username) return a.created_username;
  if (typeof by === "number") return `labelstudio-user:${by}`;
  return null;
}
