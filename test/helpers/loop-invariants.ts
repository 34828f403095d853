import { INBOX_PREFIX, TASKS_PREFIX, type InboxTask } from "../../shared/adapters/annotation/inbox-backend.ts";
import { objectUri } from "../../shared/core/uri.ts";
import type { Config } from "../../shared/config/load.ts";
import type { Db, ObjectStore } from "../../shared/ports.ts";

/**
 * What "nothing lost, nothing duplicated, nothing mixed up" means for a loop that has settled,
 * checked against the database and the buckets. Returns the problems found (empty when sound) and
 * the counts, so a test can print them.
 *
 * - Lost: an archive upload without an item; an item stuck before registration; a label file in the
 *   inbox without its annotation; a run, evaluation, delivery or outbox row left unfinished.
 * - Duplicated: two items for one upload; two tasks or annotations for one item or revision; two
 *   dataset versions freezing the same item; two runs for a version, two models for a run, two
 *   evaluations for a model, two policy decisions or alias moves for one evaluation.
 * - Mixed up: two items sharing an annotation image; a task whose images are not its item's.
 */
export interface LoopCheck {
  problems: string[];
  counts: Record<string, number>;
}

export async function checkLoopInvariants(db: Db, store: ObjectStore, config: Config): Promise<LoopCheck> {
  const problems: string[] = [];
  const counts: Record<string, number> = {};
  const q = async <R extends Record<string, unknown>>(sql: string, params: unknown[] = []) => (await db.query<R>(sql, params)).rows;
  const n = async (sql: string, params: unknown[] = []) => Number((await q<{ n: number }>(sql, params))[0]?.n ?? 0);

  // Uploads ↔ items.
  const uploads = (await store.list(objectUri(config.buckets.archive, ""))).filter((o) => !o.name.endsWith("/"));
  const items = await q<{ id: string; source_name: string; source_generation: string; state: string; assets: Record<string, { uri: string }> }>(
    `SELECT id, source_name, source_generation, state, assets FROM items WHERE source_bucket = $1`, [config.buckets.archive]);
  const bySource = new Map<string, number>();
  for (const it of items) bySource.set(`${it.source_name}#${it.source_generation}`, (bySource.get(`${it.source_name}#${it.source_generation}`) ?? 0) + 1);
  for (const u of uploads) {
    const k = bySource.get(`${u.name}#${u.generation}`) ?? 0;
    if (k !== 1) problems.push(`upload ${u.name}#${u.generation} has ${k} items`);
  }
  counts.uploads = uploads.length;
  counts.items = items.length;
  for (const it of items) {
    if (["seen", "normalised"].includes(it.state)) problems.push(`item ${it.id} (${it.source_name}) is stuck in ${it.state}`);
  }

  // Annotation images: every item's own, none shared.
  const owner = new Map<string, string>();
  for (const it of items) {
    for (const [role, asset] of Object.entries(it.assets ?? {})) {
      if (role === "nodata") continue;
      const other = owner.get(asset.uri);
      if (other && other !== it.id) problems.push(`items ${other} and ${it.id} share the image ${asset.uri}`);
      owner.set(asset.uri, it.id);
    }
  }

  // Tasks (local folder backend): one per registered item, showing that item's images.
  const registered = new Set((await q<{ id: string }>(`SELECT id FROM items WHERE backend IS NOT NULL`)).map((r) => r.id));
  const tasks = await store.list(objectUri(config.buckets.annotation, TASKS_PREFIX));
  counts.tasks = tasks.length;
  const itemById = new Map(items.map((i) => [i.id, i]));
  for (const t of tasks) {
    const task = JSON.parse((await store.get(t.uri)).toString("utf8")) as InboxTask;
    const item = itemById.get(task.itemId);
    if (!item) {
      problems.push(`task ${t.name} is for unknown item ${task.itemId}`);
      continue;
    }
    if (!registered.has(task.itemId)) problems.push(`task ${t.name} exists but item ${task.itemId} is not registered`);
    const own = new Set(Object.entries(item.assets ?? {}).filter(([r]) => r !== "nodata").map(([, a]) => a.uri));
    for (const image of task.images) if (!own.has(image.uri)) problems.push(`task of ${task.itemId} shows ${image.uri}, not one of its item's images`);
  }
  const titles = await q<{ title: string; n: number }>(
    `SELECT lower(title) AS title, count(*)::int AS n FROM items WHERE backend IS NOT NULL GROUP BY 1 HAVING count(*) > 1`);
  for (const t of titles) problems.push(`${t.n} registered items share the title ${t.title}`);

  // Labels: each inbox file revision is one annotation, no more, no fewer.
  const labelFiles = await store.list(objectUri(config.buckets.annotation, INBOX_PREFIX));
  counts.labelFiles = labelFiles.length;
  counts.annotations = await n(`SELECT count(*)::int AS n FROM annotations`);
  if (counts.annotations !== labelFiles.length) problems.push(`${labelFiles.length} label files in the inbox but ${counts.annotations} annotations`);

  // Dataset versions: contiguous seqs; each frozen item in exactly one version's fresh set.
  const versions = await q<{ id: string; line: string; seq: number; fresh_count: number }>(`SELECT id, line, seq, fresh_count FROM dataset_versions ORDER BY line, seq`);
  counts.datasetVersions = versions.length;
  versions.forEach((v, i) => {
    const expected = versions.filter((w, j) => j < i && w.line === v.line).length + 1;
    if (v.seq !== expected) problems.push(`dataset version ${v.id} has seq ${v.seq}, expected ${expected}`);
  });
  for (const v of versions) {
    const frozen = await n(`SELECT count(*)::int AS n FROM items WHERE dataset_version_id = $1`, [v.id]);
    if (frozen !== v.fresh_count) problems.push(`dataset version ${v.seq} says ${v.fresh_count} fresh items, ${frozen} items point at it`);
  }

  // Runs, models, evaluations, decisions, alias moves.
  counts.trainingRuns = await n(`SELECT count(*)::int AS n FROM training_runs`);
  counts.models = await n(`SELECT count(*)::int AS n FROM models`);
  counts.evaluations = await n(`SELECT count(*)::int AS n FROM evaluations`);
  counts.aliasMoves = await n(`SELECT count(*)::int AS n FROM alias_moves`);
  counts.decisions = await n(`SELECT count(*)::int AS n FROM promotion_decisions`);
  if (counts.trainingRuns !== versions.length) problems.push(`${versions.length} dataset versions but ${counts.trainingRuns} training runs`);
  const unfinished = await q<{ id: string; state: string }>(`SELECT id, state FROM training_runs WHERE state IN ('launching', 'running')
    UNION ALL SELECT id, state FROM evaluations WHERE state IN ('launching', 'running')`);
  for (const u of unfinished) problems.push(`${u.id} is still ${u.state}`);
  const succeeded = await n(`SELECT count(*)::int AS n FROM training_runs WHERE state = 'succeeded'`);
  if (counts.models !== succeeded) problems.push(`${succeeded} succeeded runs but ${counts.models} models`);
  const evaluationsPerModel = await q<{ candidate_model_id: string; n: number }>(
    `SELECT candidate_model_id, count(*)::int AS n FROM evaluations GROUP BY 1 HAVING count(*) <> 1`);
  for (const e of evaluationsPerModel) problems.push(`model ${e.candidate_model_id} has ${e.n} evaluations`);
  const policyDecisions = await q<{ evaluation_id: string; alias: string; n: number }>(
    `SELECT evaluation_id, alias, count(*)::int AS n FROM promotion_decisions WHERE actor = 'policy' GROUP BY 1, 2 HAVING count(*) > 1`);
  for (const d of policyDecisions) problems.push(`evaluation ${d.evaluation_id} has ${d.n} policy decisions for ${d.alias}`);
  const movesPerDecision = await q<{ decision_id: string; n: number }>(
    `SELECT decision_id, count(*)::int AS n FROM alias_moves WHERE decision_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1`);
  for (const m of movesPerDecision) problems.push(`decision ${m.decision_id} moved an alias ${m.n} times`);
  const promotions = await n(`SELECT count(*)::int AS n FROM promotion_decisions WHERE outcome = 'promote' AND actor = 'policy'`);
  const policyMoves = await n(`SELECT count(*)::int AS n FROM alias_moves WHERE actor = 'policy'`);
  if (promotions !== policyMoves) problems.push(`${promotions} policy promotions but ${policyMoves} policy alias moves`);

  // Messages: nothing left unpublished or undelivered.
  counts.unsentOutbox = await n(`SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL`);
  if (counts.unsentOutbox > 0) problems.push(`${counts.unsentOutbox} outbox rows never published`);
  return { problems, counts };
}
