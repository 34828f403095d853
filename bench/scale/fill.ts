import type pg from "pg";

/**
 * Fills a migrated database with the history of a team that uploads 10 000 products a day, up to
 * `items` items, with set-based SQL (generate_series; no row goes through Node). The newest item
 * was uploaded just now, the oldest items/10 000 days ago. Item states by age and a stable hash:
 *
 *   2 % failed (corrupt uploads) · the newest 100 `seen`, the next 200 `normalised` · the next
 *   20 % `registered` (annotation is the bottleneck) · 200 `annotated` · then the freeze pool
 *   (parked `annotated` with an accepted label; the benchmark turns `freezeSize` of them `accepted`
 *   per timed freeze) and `preFreeze` `accepted` items for the first freeze · the rest 8 % `rejected`
 *   and `in_dataset`, frozen over `versions - 1` versions, 5 % of members relabelled once (two
 *   membership rows), 14 % with a rejected first label.
 *
 * Transitions follow each item's path (~5 per item). Operational rows are filled as retention
 * leaves them (`steadyState`) and, separately, as they pile up without it (`history`).
 */
export interface FillPlan {
  items: number;
  versions: number;
  /** Items in the freeze pool (parked until the timed freezes). */
  pool: number;
  /** Items `accepted` at the end of the fill: the first (untimed) freeze takes them. */
  preFreeze: number;
  perDay: number;
}

export const LABEL_TEMPLATE = labelTemplate();

/**
 * Runs `fill` with the secondary indexes of `tables` dropped, then builds them again: one sort per
 * index instead of a million random inserts (the unique and primary keys stay).
 */
export async function withoutSecondaryIndexes(c: pg.ClientBase, tables: string[], fill: () => Promise<void>): Promise<void> {
  const { rows } = await c.query<{ name: string; def: string }>(
    `SELECT i.indexname AS name, i.indexdef AS def FROM pg_indexes i
     WHERE i.schemaname = 'public' AND i.tablename = ANY($1::text[])
       AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conname = i.indexname)
       AND i.indexdef NOT LIKE 'CREATE UNIQUE%'`,
    [tables],
  );
  for (const r of rows) await c.query(`DROP INDEX ${r.name}`);
  await fill();
  await c.query(`SET maintenance_work_mem = '256MB'`);
  for (const r of rows) await c.query(r.def);
}

export async function fillCore(c: pg.ClientBase, plan: FillPlan, say: (s: string) => void): Promise<void> {
  const { items: n, versions, pool, preFreeze, perDay } = plan;
  const registered = Math.floor(n * 0.2);
  const secondsPerItem = 86_400 / perDay;
  await c.query(`SET session_replication_role = replica`); // bulk load: no per-row triggers or FK checks
  await c.query(`SET maintenance_work_mem = '256MB'`);
  await c.query(`SET synchronous_commit = off`);

  say(`items (${n})`);
  await c.query(
    `INSERT INTO items (id, source_bucket, source_name, source_generation, source_size, content_sha256, kind, product_name, state,
       width, height, nodata_pixels, assets, backend, backend_ref, dataset_version_id, error, error_stage, attempts,
       created_at, updated_at, state_changed_at, reached_states, title, split_key)
     SELECT s.id, 'archive', '2026/' || to_char(s.t, 'YYYY-MM-DD') || '/' || s.pname || '.zip', (extract(epoch FROM s.t) * 1000000)::bigint::text,
       300000000 + (s.h * 1000), md5('c' || s.g) || md5('d' || s.g), 'product', s.pname, st.state, 1024, 1024,
       CASE WHEN s.h % 3 = 0 THEN 4096 + s.h ELSE 0 END,
       jsonb_build_object(
         'rgb', jsonb_build_object('uri', 'gs://annotation/items/' || s.pname || '/' || s.pname || '_rgb.png', 'sha256', md5('r' || s.g) || md5('R' || s.g)),
         'nir', jsonb_build_object('uri', 'gs://annotation/items/' || s.pname || '/' || s.pname || '_nir.png', 'sha256', md5('n' || s.g) || md5('N' || s.g)))
       || CASE WHEN s.h % 3 = 0 THEN jsonb_build_object('nodata', jsonb_build_object('uri', 'gs://annotation/masks/nodata/' || s.id || '.png', 'sha256', md5('m' || s.g) || md5('M' || s.g))) ELSE '{}'::jsonb END,
       CASE WHEN st.state IN ('seen', 'normalised', 'failed') THEN NULL ELSE 'encord' END,
       CASE WHEN st.state IN ('seen', 'normalised', 'failed') THEN NULL ELSE substr(md5('ref' || s.g), 1, 8) || '-' || substr(md5('ref' || s.g), 9, 4) || '-4' || substr(md5('ref' || s.g), 14, 3) || '-8' || substr(md5('ref' || s.g), 18, 15) END,
       CASE WHEN st.state = 'in_dataset' THEN md5('v' || s.vseq) || md5('V' || s.vseq) END,
       CASE st.state WHEN 'failed' THEN 'corrupt_zip: the upload is not a zip archive (end of central directory not found)'
                     WHEN 'rejected' THEN 'label paints thick_cloud over 2048 nodata pixels; unknown class "snow"' END,
       CASE st.state WHEN 'failed' THEN 'ingest' WHEN 'rejected' THEN 'quality' END,
       CASE WHEN st.state = 'failed' THEN 1 ELSE 0 END,
       s.t, least(now(), s.t + interval '2 days'), least(now(), s.t + interval '2 days'), st.reached, s.pname, s.pname
     FROM (SELECT g, $1::int - g AS r, (('x' || substr(md5('item' || g), 1, 8))::bit(32)::int & 1023) AS h, 'it_' || substr(md5('item' || g), 1, 20) AS id,
             'S2B_MSIL2A_' || to_char(now() - ($1::int - g) * make_interval(secs => $5), 'YYYYMMDD"T"HH24MISS') || '_N0510_R' || lpad((g % 143)::text, 3, '0') || '_T' || (10 + g % 50) || 'SQ' || chr(65 + g % 26) || '_' || g AS pname,
             now() - ($1::int - g) * make_interval(secs => $5) AS t,
             -- The version an old enough item was frozen in: the oldest first, evenly over the versions.
             1 + floor((g - 1) * $6::float8 / greatest(1, $1::int - (500 + $2::int + $3::int + $4::int)))::int AS vseq
           FROM generate_series(1, $1::int) g) s,
     LATERAL (SELECT CASE
         WHEN s.h < 20 THEN 'failed'
         WHEN s.r < 100 THEN 'seen'
         WHEN s.r < 300 THEN 'normalised'
         WHEN s.r < 300 + $2::int THEN 'registered'
         WHEN s.r < 500 + $2::int THEN 'annotated'
         WHEN s.r < 500 + $2::int + $3::int THEN 'annotated'
         WHEN s.r < 500 + $2::int + $3::int + $4::int THEN 'accepted'
         WHEN s.h < 102 THEN 'rejected'
         ELSE 'in_dataset' END AS state) st0,
     LATERAL (SELECT st0.state, CASE st0.state
         WHEN 'failed' THEN ARRAY['seen', 'failed'] WHEN 'seen' THEN ARRAY['seen'] WHEN 'normalised' THEN ARRAY['seen', 'normalised']
         WHEN 'registered' THEN ARRAY['seen', 'normalised', 'registered']
         WHEN 'annotated' THEN ARRAY['seen', 'normalised', 'registered', 'annotated']
         WHEN 'accepted' THEN ARRAY['seen', 'normalised', 'registered', 'annotated', 'accepted']
         WHEN 'rejected' THEN ARRAY['seen', 'normalised', 'registered', 'annotated', 'rejected']
         ELSE CASE WHEN s.h BETWEEN 153 AND 299 THEN ARRAY['seen', 'normalised', 'registered', 'annotated', 'rejected', 'accepted', 'in_dataset']
                   ELSE ARRAY['seen', 'normalised', 'registered', 'annotated', 'accepted', 'in_dataset'] END END AS reached) st`,
    [n, registered, pool, preFreeze, secondsPerItem, versions - 1],
  );
  // One content claim per live item (ingest's duplicate guard), as ingest writes them.
  await c.query(`INSERT INTO content_claims (sha256, item_id, claimed_at) SELECT content_sha256, id, created_at FROM items WHERE state <> 'failed'`);
  // The freeze pool: parked items the benchmark accepts 10 000 at a time.
  await c.query(`CREATE TABLE bench_pool AS SELECT id, row_number() OVER (ORDER BY id) AS k FROM items
                 WHERE state = 'annotated' AND created_at < now() - make_interval(secs => $1)`, [(500 + registered) * secondsPerItem]);

  say("annotations");
  // The main label: accepted (with its exports) for accepted/annotated/in_dataset items, rejected for rejected ones.
  // Relabelled members (h 102..152) get a first accepted label too; 14 % a rejected first label.
  await c.query(
    `INSERT INTO annotations (id, item_id, backend, label_id, annotator, edited_at, canonical, canonical_sha256, verdict, reasons, received_at, exports)
     SELECT a.id, i.id, 'encord', a.label_id, a.annotator, a.edited,
       $1::jsonb || jsonb_build_object('itemId', i.id, 'provenance', ($1::jsonb -> 'provenance')
         || jsonb_build_object('labelId', a.label_id, 'editedAt', to_char(a.edited AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))),
       md5(a.id) || md5(a.id || 'x'), a.verdict,
       CASE WHEN a.verdict = 'rejected' THEN '["label paints thick_cloud over 2048 nodata pixels"]'::jsonb ELSE '[]'::jsonb END, a.edited,
       CASE WHEN a.verdict = 'accepted' THEN jsonb_build_object(
         'label', jsonb_build_object('uri', 'gs://datasets/labels/' || md5(a.id) || md5(a.id || 'l') || '.json', 'sha256', md5(a.id) || md5(a.id || 'l')),
         'yolo', jsonb_build_object('uri', 'gs://datasets/exports/yolo/' || md5(a.id) || md5(a.id || 'y') || '.txt', 'sha256', md5(a.id) || md5(a.id || 'y')),
         'mask', jsonb_build_object('uri', 'gs://datasets/exports/masks/' || md5(a.id) || md5(a.id || 'k') || '.png', 'sha256', md5(a.id) || md5(a.id || 'k'))) END
     FROM (SELECT id, state, (('x' || substr(id, 4, 8))::bit(32)::int & 1023) AS h, created_at FROM items
           WHERE state IN ('annotated', 'accepted', 'rejected', 'in_dataset')) i,
     LATERAL (VALUES
       ('an_' || substr(md5('an2' || i.id), 1, 20), 'encord:' || substr(md5('lab' || i.id), 1, 24), 'annotator-' || (i.h % 40) || '@example.com',
        i.created_at + (now() - i.created_at) / 2, CASE WHEN i.state = 'rejected' THEN 'rejected' ELSE 'accepted' END, true),
       ('an_' || substr(md5('an1' || i.id), 1, 20), 'encord:' || substr(md5('lab' || i.id), 1, 24), 'annotator-' || (i.h % 40) || '@example.com',
        i.created_at + (now() - i.created_at) / 3, CASE WHEN i.h < 153 THEN 'accepted' ELSE 'rejected' END,
        i.state = 'in_dataset' AND i.h BETWEEN 102 AND 299)
     ) a(id, label_id, annotator, edited, verdict, present)
     WHERE a.present`,
    [LABEL_TEMPLATE],
  );

  // Every label revision the poll processed (one per annotation), as the poll records them.
  await c.query(
    `INSERT INTO label_revisions (backend, label_id, edited_at, outcome, item_id, seen_at)
     SELECT backend, label_id, edited_at, verdict, item_id, received_at FROM annotations ON CONFLICT DO NOTHING`,
  );

  say(`dataset members and ${versions - 1} versions`);
  const frozen = versions - 1;
  await c.query(
    `INSERT INTO dataset_members (line, item_id, added_seq, removed_seq, annotation_id, split)
     SELECT 'default', i.id, v.seq, NULL, 'an_' || substr(md5('an2' || i.id), 1, 20), CASE WHEN (('x' || substr(i.id, 4, 8))::bit(32)::int & 1023) % 100 < 20 THEN 'eval' ELSE 'train' END
     FROM items i JOIN (SELECT g AS seq, md5('v' || g) || md5('V' || g) AS id FROM generate_series(1, $1::int) g) v ON v.id = i.dataset_version_id
     WHERE i.state = 'in_dataset'`,
    [frozen],
  );
  // 5 % of members were relabelled a few versions after they joined: their first label's membership closes.
  await c.query(
    `CREATE TEMP TABLE relabelled AS
     SELECT item_id, added_seq, least($1::int, added_seq + 1 + ((('x' || substr(item_id, 4, 8))::bit(32)::int & 1023) & 3)) AS changed, split
     FROM dataset_members WHERE (('x' || substr(item_id, 4, 8))::bit(32)::int & 1023) BETWEEN 102 AND 152 AND added_seq < $1::int`,
    [frozen],
  );
  await c.query(`UPDATE dataset_members m SET added_seq = r.changed FROM relabelled r WHERE m.item_id = r.item_id`);
  await c.query(
    `INSERT INTO dataset_members (line, item_id, added_seq, removed_seq, annotation_id, split)
     SELECT 'default', item_id, added_seq, changed, 'an_' || substr(md5('an1' || item_id), 1, 20), split FROM relabelled`,
  );
  await c.query(
    `WITH deltas AS (
       SELECT s, sum(d) AS d, sum(d) FILTER (WHERE split = 'train') AS dt FROM (
         SELECT added_seq AS s, 1 AS d, split FROM dataset_members UNION ALL
         SELECT removed_seq, -1, split FROM dataset_members WHERE removed_seq IS NOT NULL) x GROUP BY s),
     seqs AS (SELECT g AS seq, coalesce(d, 0) AS d, coalesce(dt, 0) AS dt FROM generate_series(1, $1::int) g LEFT JOIN deltas ON deltas.s = g),
     totals AS (SELECT seq, sum(d) OVER (ORDER BY seq)::int AS n, sum(dt) OVER (ORDER BY seq)::int AS nt, d FROM seqs)
     INSERT INTO dataset_versions (id, line, seq, parent_id, manifest_uri, item_count, train_count, eval_count, fresh_count, classes, exports, trigger, created_at)
     SELECT md5('v' || seq) || md5('V' || seq), 'default', seq, CASE WHEN seq > 1 THEN md5('v' || (seq - 1)) || md5('V' || (seq - 1)) END,
       'gs://datasets/default/' || md5('v' || seq) || md5('V' || seq) || '/manifest.json', n, nt, n - nt, greatest(d, 0)::int,
       $2::jsonb, '{}'::jsonb, 'bench', now() - (($1::int - seq + 1) * interval '1 day')
     FROM totals ORDER BY seq`,
    [frozen, JSON.stringify(CLASSES)],
  );
  say("runs, models, evaluations, promotions");
  await c.query(
    `INSERT INTO training_runs (id, line, dataset_version_id, state, execution_name, output_prefix, params, created_at, started_at, finished_at, updated_at)
     SELECT 'run_' || seq, 'default', id, 'succeeded', 'projects/p/locations/europe-west4/jobs/train/executions/train-' || seq,
       'gs://models/default/runs/run_' || seq || '/', '{"epochs": 20}', created_at, created_at, created_at + interval '50 minutes', created_at + interval '50 minutes'
     FROM dataset_versions;
     INSERT INTO models (id, training_run_id, name, task, uri, card, dataset_version_id, created_at)
     SELECT 'mdl_' || seq, 'run_' || seq, 'cloud-mask-unet', 'segmentation', 'gs://models/default/runs/run_' || seq || '/',
       '{"schema": "model-card/v1", "name": "cloud-mask-unet", "task": "segmentation"}', id, created_at + interval '50 minutes'
     FROM dataset_versions;
     INSERT INTO evaluations (id, candidate_model_id, champion_model_id, dataset_version_id, state, report_uri, summary_uri, metrics, created_at, finished_at, updated_at)
     SELECT 'eval_' || seq, 'mdl_' || seq, CASE WHEN seq > 1 THEN 'mdl_' || (seq - 1) END, id, 'succeeded',
       'gs://models/default/runs/run_' || seq || '/report.json', 'gs://models/default/runs/run_' || seq || '/summary.html',
       jsonb_build_object('primaryMetric', 'mIoU', 'candidateValue', 0.5 + seq * 0.002, 'championValue', 0.5 + (seq - 1) * 0.002, 'items', eval_count),
       created_at + interval '55 minutes', created_at + interval '65 minutes', created_at + interval '65 minutes'
     FROM dataset_versions;
     INSERT INTO promotion_decisions (id, evaluation_id, model_id, alias, outcome, reasons, actor, created_at)
     SELECT 'dec_' || seq, 'eval_' || seq, 'mdl_' || seq, 'staging', CASE WHEN seq % 2 = 0 THEN 'promote' ELSE 'refuse' END,
       '["mIoU 0.61 ≥ 0.60"]', 'policy', created_at + interval '66 minutes' FROM dataset_versions;
     INSERT INTO alias_moves (alias, model_id, previous_model_id, decision_id, actor, reason, cause_id, moved_at)
     SELECT 'staging', 'mdl_' || seq, CASE WHEN seq > 2 THEN 'mdl_' || (seq - 2) END, 'dec_' || seq, 'policy', 'better mIoU', 'msg_' || seq, created_at + interval '66 minutes'
     FROM dataset_versions WHERE seq % 2 = 0`,
  );
  await c.query(`SET session_replication_role = origin`);
}

/** Transitions along each item's path. `from`/`to`: the window of transition times to write (ISO). */
export async function fillTransitions(c: pg.ClientBase, window: { newerThanDays: number | null; olderThanDays: number | null }): Promise<void> {
  await c.query(`SET session_replication_role = replica`);
  await c.query(
    `INSERT INTO item_transitions (item_id, from_state, to_state, reason, at)
     SELECT t.id, t.from_state, t.to_state, t.reason, t.at FROM (
       SELECT i.id, i.created_at, CASE WHEN p.k = 1 THEN NULL ELSE i.reached_states[p.k - 1] END AS from_state, i.reached_states[p.k] AS to_state,
         CASE i.reached_states[p.k] WHEN 'seen' THEN 'uploaded' WHEN 'failed' THEN i.error WHEN 'rejected' THEN 'label paints thick_cloud over nodata'
           WHEN 'accepted' THEN 'passed quality checks' WHEN 'in_dataset' THEN 'dataset default v' || coalesce(v.seq, 0)
           WHEN 'annotated' THEN 'label encord:' || substr(i.id, 4, 12) END AS reason,
         least(now(), i.created_at + (ARRAY[0, 5, 60, 86400, 86401, 90000, 172800, 172801]::int[])[p.k] * interval '1 second') AS at
       FROM items i LEFT JOIN dataset_versions v ON v.id = i.dataset_version_id,
       LATERAL generate_series(1, array_length(i.reached_states, 1)) p(k)) t
     WHERE ($1::float8 IS NULL OR t.at > now() - $1::float8 * interval '1 day')
       AND ($2::float8 IS NULL OR t.at <= now() - $2::float8 * interval '1 day')
     ORDER BY t.at`,
    [window.newerThanDays, window.olderThanDays],
  );
  await c.query(`SET session_replication_role = origin`);
}

/** What retention keeps of transitions older than the window: per-day counts. */
export async function fillTransitionDays(c: pg.ClientBase, olderThanDays: number): Promise<void> {
  await c.query(
    `INSERT INTO item_transition_days (day, from_state, to_state, n)
     SELECT (created_at AT TIME ZONE 'UTC')::date, '', 'seen', count(*) FROM items WHERE created_at <= now() - $1::float8 * interval '1 day' GROUP BY 1
     ON CONFLICT DO NOTHING`,
    [olderThanDays],
  );
}

/**
 * Inbox, outbox and delivery rows of `days` days of traffic ending `endDaysAgo` days ago: per upload
 * about two outbox messages, three deliveries and three inbox rows, plus the ticks (poll every 5 s,
 * reconcile every 30 s, threshold every 30 s: ~8 600 inbox and delivery rows a day each).
 */
export async function fillTraffic(
  c: pg.ClientBase,
  o: { perDay: number; days: number; endDaysAgo: number; prefix: string; tables?: ("outbox" | "deliveries" | "inbox")[] },
): Promise<void> {
  const tables = new Set(o.tables ?? ["outbox", "deliveries", "inbox"]);
  if (o.days <= 0) return;
  const uploads = Math.round(o.perDay * o.days);
  const ticks = Math.round(8640 * o.days);
  const envelope = `'{"id": "' || m.id || '", "type": "item.normalised", "source": "mlops-loop", "specversion": "1.0", "occurredAt": "' || to_char(m.t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || '", "correlationId": "corr_' || substr(md5(m.id), 1, 26) || '", "causationId": "msg_' || substr(md5('c' || m.id), 1, 26) || '", "data": {"itemId": "it_' || substr(md5('x' || m.id), 1, 20) || '"}}'`;
  const messages = (count: number, kind: string) =>
    `SELECT '${o.prefix}${kind}_' || g || '_' || substr(md5('${kind}' || g), 1, 16) AS id,
            now() - make_interval(days => ${o.endDaysAgo}) - (g::float8 / ${count} * ${o.days}) * interval '1 day' AS t
     FROM generate_series(1, ${count}) g`;
  await c.query(`SET session_replication_role = replica`);
  if (tables.has("outbox")) {await c.query(
    `INSERT INTO outbox (id, type, topic, envelope, created_at, sent_at, attempts)
     SELECT m.id, 'item.normalised', 'item-normalised', (${envelope})::jsonb, m.t, m.t, 1 FROM (${messages(2 * uploads, "out")}) m`,
  );}
  if (tables.has("deliveries")) {await c.query(
    `INSERT INTO local_deliveries (message_id, consumer, envelope, state, attempts, next_attempt_at, created_at, updated_at)
     SELECT m.id, c.consumer, (${envelope})::jsonb, 'done', 1, m.t, m.t, m.t
     FROM (${messages(2 * uploads, "out")}) m, (VALUES ('register'), ('threshold')) c(consumer) WHERE c.consumer = 'register' OR (hashtext(m.id) & 1) = 0
     UNION ALL
     SELECT m.id, 'poll', (${envelope})::jsonb, 'done', 1, m.t, m.t, m.t FROM (${messages(ticks, "tick")}) m`,
  );}
  if (tables.has("inbox")) {await c.query(
    `INSERT INTO inbox (consumer, message_id, processed_at)
     SELECT c.consumer, m.id, m.t FROM (${messages(uploads, "in")}) m, (VALUES ('ingest'), ('threshold'), ('command')) c(consumer)
     UNION ALL SELECT 'poll', m.id, m.t FROM (${messages(ticks, "tick")}) m`,
  );}
  await c.query(`SET session_replication_role = origin`);
}

/** Dead letters (2 % of uploads fail), notifications and Slack threads of `days` days ending `endDaysAgo` days ago. */
export async function fillRecords(c: pg.ClientBase, o: { perDay: number; days: number; endDaysAgo: number }): Promise<void> {
  if (o.days <= 0) return;
  const failures = Math.round(o.perDay * 0.02 * o.days);
  const at = (count: number) => `now() - make_interval(days => ${o.endDaysAgo}) - (g::float8 / ${count} * ${o.days}) * interval '1 day'`;
  await c.query(
    `INSERT INTO dead_letters (consumer, message_id, reason, payload, created_at)
     SELECT 'ingest', 'gcs:archive/2026/p' || g || '.zip#1', 'corrupt_zip: the upload is not a zip archive (end of central directory not found)',
       jsonb_build_object('id', 'gcs:archive/2026/p' || g || '.zip#1', 'type', 'object.finalized', 'data', jsonb_build_object('bucket', 'archive', 'name', '2026/p' || g || '.zip', 'generation', '1')),
       ${at(failures)} FROM generate_series(1, ${failures}) g;
     INSERT INTO notifications (severity, thread_key, title, text, created_at)
     SELECT 'warning', 'item:it_' || g, 'Upload failed: 2026/p' || g || '.zip', 'corrupt_zip: the upload is not a zip archive (end of central directory not found)', ${at(failures)}
     FROM generate_series(1, ${failures}) g;
     INSERT INTO slack_threads (thread_key, channel, thread_ts, created_at)
     SELECT 'run:bench_' || g || '_' || ${o.endDaysAgo}, 'C0123456', '1717000000.' || lpad(g::text, 6, '0'), ${at(Math.ceil(o.days))}
     FROM generate_series(1, ${Math.ceil(o.days)}) g`,
  );
}

const CLASSES = ["background", "land", "water", "thick_cloud", "thin_cloud", "cloud_shadow"];

/** A realistic segmentation label: three polygons of 24 vertices each on a 1024² image. */
function labelTemplate(): string {
  const ring = (cx: number, cy: number, r: number) =>
    Array.from({ length: 24 }, (_, k) => [Math.round(cx + r * Math.cos((k / 24) * 2 * Math.PI) * 10) / 10, Math.round(cy + r * Math.sin((k / 24) * 2 * Math.PI) * 10) / 10]).flat();
  const objects = [
    { id: "obj-thick-cloud-1", classId: 3, className: "thick_cloud", kind: "polygon", polygon: [ring(300.5, 280.25, 140)] },
    { id: "obj-cloud-shadow-1", classId: 5, className: "cloud_shadow", kind: "polygon", polygon: [ring(420.75, 380.5, 90)] },
    { id: "obj-water-1", classId: 2, className: "water", kind: "polygon", polygon: [ring(780.25, 760.75, 180)] },
  ];
  return JSON.stringify({
    schema: "canonical-annotation/v1", itemId: "@ITEM@", image: { width: 1024, height: 1024 }, objects, classifications: [],
    provenance: { backend: "encord", labelId: "@LABEL@", annotator: "annotator@example.com", editedAt: "@EDITED@" },
  });
}
