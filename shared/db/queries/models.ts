import type { Queryable } from "../../ports.ts";

export interface ModelRow {
  id: string;
  training_run_id: string | null;
  name: string;
  task: string;
  uri: string;
  card: Record<string, unknown>;
  dataset_version_id: string | null;
  created_at: Date;
}

export async function insertModel(
  db: Queryable,
  m: { id: string; trainingRunId: string | null; name: string; task: string; uri: string; card: unknown; datasetVersionId: string | null },
): Promise<ModelRow> {
  await db.query(
    `INSERT INTO models (id, training_run_id, name, task, uri, card, dataset_version_id) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT DO NOTHING`,
    [m.id, m.trainingRunId, m.name, m.task, m.uri, JSON.stringify(m.card), m.datasetVersionId],
  );
  const row = m.trainingRunId ? await modelOfRun(db, m.trainingRunId) : await getModel(db, m.id);
  if (!row) throw new Error(`model ${m.id} missing after insert`);
  return row;
}

export async function getModel(db: Queryable, id: string): Promise<ModelRow | null> {
  const { rows } = await db.query<ModelRow>(`SELECT * FROM models WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

export async function modelOfRun(db: Queryable, runId: string): Promise<ModelRow | null> {
  const { rows } = await db.query<ModelRow>(`SELECT * FROM models WHERE training_run_id = $1`, [runId]);
  return rows[0] ?? null;
}

export interface AliasMoveRow {
  id: number;
  alias: string;
  model_id: string;
  previous_model_id: string | null;
  decision_id: string | null;
  actor: string;
  reason: string;
  cause_id: string;
  moved_at: Date;
}

/** The model holding an alias now (the latest move), or null. */
export async function aliasHolder(db: Queryable, alias: string): Promise<AliasMoveRow | null> {
  const { rows } = await db.query<AliasMoveRow>(`SELECT * FROM alias_moves WHERE alias = $1 ORDER BY id DESC LIMIT 1`, [alias]);
  return rows[0] ?? null;
}

/**
 * Appends an alias move. Idempotent per (alias, cause): a redelivered message that caused a move
 * finds it and returns null instead of moving the alias a second time.
 */
export async function moveAlias(
  db: Queryable,
  move: { alias: string; modelId: string; decisionId: string | null; actor: string; reason: string; causeId: string },
): Promise<AliasMoveRow | null> {
  const current = await db.query<{ model_id: string }>(
    `SELECT model_id FROM alias_moves WHERE alias = $1 ORDER BY id DESC LIMIT 1 FOR UPDATE`,
    [move.alias],
  );
  const previous = current.rows[0]?.model_id ?? null;
  const { rows } = await db.query<AliasMoveRow>(
    `INSERT INTO alias_moves (alias, model_id, previous_model_id, decision_id, actor, reason, cause_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (alias, cause_id) DO NOTHING RETURNING *`,
    [move.alias, move.modelId, previous, move.decisionId, move.actor, move.reason, move.causeId],
  );
  return rows[0] ?? null;
}

export async function aliasHistory(db: Queryable, alias: string): Promise<AliasMoveRow[]> {
  const { rows } = await db.query<AliasMoveRow>(`SELECT * FROM alias_moves WHERE alias = $1 ORDER BY id DESC`, [alias]);
  return rows;
}

