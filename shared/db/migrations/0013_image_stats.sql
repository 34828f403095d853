-- Input drift features: per-band statistics of every ingested and every predicted image (what the
-- model sees after normalisation: mean, std, percentiles per band, nodata share), and the served
-- model's predicted class fractions. One row per ingested item (its first normalisation), one per
-- prediction. Read by the drift check (reference: the served model's training dataset version;
-- window: the most recent images outside it) and deleted by retention after
-- RETENTION_DRIFT_DAYS for predictions (ingest rows live as long as their item).
CREATE TABLE image_stats (
  id              bigserial PRIMARY KEY,
  source          text NOT NULL CHECK (source IN ('ingest', 'predict')),
  item_id         text REFERENCES items (id) ON DELETE CASCADE,
  model_id        text,
  alias           text,
  features        jsonb NOT NULL,
  class_fractions jsonb,
  recorded_at     timestamptz NOT NULL DEFAULT now(),
  CHECK ((source = 'ingest') = (item_id IS NOT NULL))
);
-- At most one row per ingested item: a redelivered ingest records nothing twice.
CREATE UNIQUE INDEX image_stats_item_key ON image_stats (item_id) WHERE source = 'ingest';
-- The window: newest first.
CREATE INDEX image_stats_recent_idx ON image_stats (recorded_at DESC, id DESC);
