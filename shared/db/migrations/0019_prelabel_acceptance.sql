-- Pre-label acceptance (README "Pre-labels and priority"): how much of a model's pre-label the
-- annotators kept. When poll accepts the first label of a pre-labelled item it compares the two
-- masks pixel by pixel and, in the same transaction as the label, records the counts on the
-- pre-label row and adds them to the model's totals (so the dashboard reads one row per model,
-- however many items there are).
ALTER TABLE prelabels
  ADD COLUMN kept_pixels bigint,
  ADD COLUMN compared_pixels bigint,
  -- The label compared with (the first accepted one): a later relabel does not count again.
  ADD COLUMN compared_annotation_id text;

CREATE TABLE prelabel_acceptance (
  model_id        text PRIMARY KEY,
  labels          bigint NOT NULL DEFAULT 0,
  kept_pixels     bigint NOT NULL DEFAULT 0,
  compared_pixels bigint NOT NULL DEFAULT 0,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CHECK (kept_pixels <= compared_pixels)
);
