import { describeError, PermanentError } from "../../errors.ts";
import type { RegistrationJobLedger, RegistrationRequest, RegistrationResult } from "../../ports.ts";
import type { LsTask, LsTaskImport } from "./api.ts";
import type { LabelStudioContext } from "./context.ts";

/**
 * Registration = one task import per batch (POST /api/projects/{id}/import, labelstud.io/guide/
 * tasks). An import is not idempotent — posting the same tasks twice makes two tasks each — and
 * Label Studio has no idempotency key, so:
 *
 * 1. the items are claimed in the registration-job ledger and the claim is marked started before
 *    the POST, so it can never go stale and be re-imported blindly;
 * 2. the POST is sent once (no retry once it may have reached the server);
 * 3. a 201 with `task_ids` settles the job at once; a refusal (4xx) abandons it and fails the
 *    items permanently; anything else (a timeout, a 5xx, an asynchronous import) leaves it open;
 * 4. a registration that finds its items in an open job lists the project's tasks and matches them
 *    by `data.itemId` before importing only what is missing, then settles the old job.
 *
 * Each task carries `data.image` (the image URL, see docs/labelstudio.md), `data.itemId`,
 * `data.title`, the image size (for labels without a brush) and `data.priority` when the request has
 * one: Label Studio's Data Manager orders the queue by any data column.
 */

const PAGE_SIZE = 100;

export async function registerItems(ctx: LabelStudioContext, items: readonly RegistrationRequest[], ledger: RegistrationJobLedger): Promise<RegistrationResult[]> {
  if (items.length === 0) return [];
  const project = await ctx.project();
  const binding = await ctx.binding();
  const results = new Map<string, RegistrationResult>();

  const open = await ledger.open(items.map((i) => i.itemId));
  if (open.length > 0) {
    const existing = await tasksByItem(ctx, project.id);
    for (const item of items) {
      const taskId = existing.get(item.itemId);
      if (taskId !== undefined) results.set(item.itemId, { itemId: item.itemId, ok: true, backendRef: String(taskId) });
    }
    for (const job of open) await ledger.settle(job.id, `reconciled: ${job.itemIds.filter((i) => existing.has(i)).length} of ${job.itemIds.length} item(s) found in project ${project.id}`);
    ctx.log.info("Label Studio registration reconciled an open import", { jobs: open.length, found: results.size });
  }

  const todo = items.filter((i) => !results.has(i.itemId));
  const claim = todo.length > 0 ? await ledger.claim(todo.map((i) => i.itemId), { project: project.id }, 600) : null;
  const claimed = claim ? todo.filter((i) => claim.itemIds.includes(i.itemId)) : [];
  for (const item of todo) {
    if (!claimed.includes(item)) results.set(item.itemId, { itemId: item.itemId, ok: false, error: "another registration holds this item", permanent: false });
  }
  const sendable: RegistrationRequest[] = [];
  for (const item of claimed) {
    const image = item.images.find((i) => i.role === "rgb") ?? item.images.find((i) => i.role === "image") ?? item.images[0];
    if (image) sendable.push(item);
    else results.set(item.itemId, { itemId: item.itemId, ok: false, error: "the item has no image to annotate", permanent: true });
  }
  if (claim && sendable.length > 0) {
    // Marked started before the POST: a claim that dies mid-import is reconciled, never re-imported.
    await ledger.started(claim.id, `import:${claim.id}`);
    const tasks = sendable.map((item) => toTask(ctx, item, binding.imageKey));
    try {
      const imported = await ctx.api.importTasks(project.id, tasks);
      const ids = imported.task_ids;
      if (ids && ids.length === sendable.length) {
        // Label Studio creates the tasks in the order posted (bulk_create of the list).
        sendable.forEach((item, i) => results.set(item.itemId, { itemId: item.itemId, ok: true, backendRef: String(ids[i]) }));
        await ledger.settle(claim.id, `imported ${sendable.length} task(s)`);
      } else {
        const what = imported.import !== undefined ? `queued as import ${imported.import} (an asynchronous edition)` : `answered without matching task ids (${JSON.stringify(imported).slice(0, 200)})`;
        ctx.log.warn("Label Studio import not confirmed; the next registration reconciles it", { what });
        for (const item of sendable) results.set(item.itemId, { itemId: item.itemId, ok: false, error: `Label Studio import ${what}; reconciled on retry`, permanent: false });
      }
    } catch (err) {
      if (err instanceof PermanentError) {
        await ledger.abandon(claim.id, describeError(err));
        if (err.code === "labelstudio_auth_failed") throw err;
        for (const item of sendable) results.set(item.itemId, { itemId: item.itemId, ok: false, error: describeError(err), permanent: true });
      } else {
        ctx.log.warn("Label Studio import failed or timed out; the next registration reconciles it", { error: describeError(err) });
        for (const item of sendable) results.set(item.itemId, { itemId: item.itemId, ok: false, error: describeError(err), permanent: false });
      }
    }
  } else if (claim) {
    await ledger.settle(claim.id, "nothing to import");
  }
  return items.map((i) => results.get(i.itemId) ?? { itemId: i.itemId, ok: false, error: "not answered", permanent: false });
}

function toTask(ctx: LabelStudioContext, item: RegistrationRequest, imageKey: string): LsTaskImport {
  const image = item.images.find((i) => i.role === "rgb") ?? item.images.find((i) => i.role === "image") ?? item.images[0]!;
  const nir = item.images.find((i) => i.role === "nir");
  return {
    data: {
      [imageKey]: ctx.imageUrl(image.uri),
      itemId: item.itemId,
      title: item.title,
      width: image.width,
      height: image.height,
      ...(nir ? { nir: ctx.imageUrl(nir.uri) } : {}),
      ...(item.priority === undefined ? {} : { priority: item.priority }),
    },
    meta: { itemId: item.itemId, contentSha256: item.contentSha256, kind: item.kind },
  };
}

/** Every task of the project, as item id → task id (task fields only; pages of 100). */
export async function tasksByItem(ctx: LabelStudioContext, projectId: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let page = 1; ; page++) {
    const { tasks, last } = await ctx.api.taskPage(projectId, page, PAGE_SIZE, { query: { ordering: ["tasks:id"] } });
    for (const task of tasks) {
      const itemId = itemIdOf(task);
      if (itemId && !out.has(itemId)) out.set(itemId, task.id);
    }
    if (last) return out;
  }
}

export function itemIdOf(task: LsTask): string | null {
  const id = task.data.itemId;
  return typeof id === "string" && id !== "" ? id : null;
}
