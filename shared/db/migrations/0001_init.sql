-- The loop's state. Runs on Postgres 15+ and on PGlite (the embedded default).

-- Items: one per archive object generation. The unique source key doubles as the ingest inbox:
-- a repeated `object.finalized` for the same bucket/name#generation finds the row and stops.
CREATE TABLE items (
  id                text PRIMARY KEY,
  source_bucket     text NOT NULL,
  source_name       text NOT NULL,
  source_generation text NOT NULL,
  source_size       bigint,
  content_sha256    text,
  kind              text CHECK (kind IN ('product', 'image')),
  product_name      text,
  state             text NOT NULL DEFAULT 'seen'
                    CHECK (state IN ('seen', 'normalised', 'registered', 'annotated', 'accepted', 'rejected', 'in_dataset', 'failed')),
  width             integer,
  height            integer,
  nodata_pixels     integer,
  -- {"rgb": {"uri", "sha256"}, "nir": {...}, "image": {...}, "nodata": {...}}
  assets            jsonb NOT NULL DEFAULT '{}'::jsonb,
  backend           text,
  backend_ref       text,
  -- Lease taken by `register` while it talks to the backend (claim, call, record).
  register_claim_until timestamptz,
  register_claim_token text,
  dataset_version_id text,
  error             text,
  error_stage       text,
  attempts          integer NOT NULL DEFAULT 0,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  state_changed_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (source_bucket, source_name, source_generation)
);
CREATE INDEX items_state_idx ON items (state, state_changed_at);
CREATE INDEX items_content_idx ON items (content_sha256);
CREATE INDEX items_backend_ref_idx ON items (backend_ref);

-- Every state change, for the funnel and throughput charts (append-only).
CREATE TABLE item_transitions (
  id         bigserial PRIMARY KEY,
  item_id    text NOT NULL REFERENCES items (id),
  from_state text,
  to_state   text NOT NULL,
  reason     text,
  at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX item_transitions_item_idx ON item_transitions (item_id);
CREATE INDEX item_transitions_at_idx ON item_transitions (to_state, at);

-- Annotations as received, converted to the canonical format, with the quality verdict.
CREATE TABLE annotations (
  id               text PRIMARY KEY,
  item_id          text NOT NULL REFERENCES items (id),
  backend          text NOT NULL,
  label_id         text NOT NULL,
  annotator        text,
  edited_at        timestamptz NOT NULL,
  canonical        jsonb,
  canonical_sha256 text,
  verdict          text NOT NULL CHECK (verdict IN ('accepted', 'rejected')),
  reasons          jsonb NOT NULL DEFAULT '[]'::jsonb,
  received_at      timestamptz NOT NULL DEFAULT now(),
  -- One row per label revision: a repeated poll of the same revision changes nothing.
  UNIQUE (backend, label_id, edited_at)
);
CREATE INDEX annotations_item_idx ON annotations (item_id, edited_at DESC);
CREATE INDEX annotations_received_idx ON annotations (received_at);

-- Where each backend's poll got to. The lease keeps two polls from working the same page.
CREATE TABLE annotation_cursors (
  backend     text PRIMARY KEY,
  cursor      text,
  lease_until timestamptz,
  lease_owner text,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Immutable dataset versions; the id is the SHA-256 of the manifest.
CREATE TABLE dataset_versions (
  id            text PRIMARY KEY,
  line          text NOT NULL,
  seq           integer NOT NULL,
  parent_id     text REFERENCES dataset_versions (id),
  manifest_uri  text NOT NULL,
  item_count    integer NOT NULL,
  train_count   integer NOT NULL,
  eval_count    integer NOT NULL,
  fresh_count   integer NOT NULL,
  classes       jsonb NOT NULL,
  exports       jsonb NOT NULL DEFAULT '{}'::jsonb,
  trigger       text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (line, seq)
);

CREATE TABLE dataset_version_items (
  version_id    text NOT NULL REFERENCES dataset_versions (id),
  item_id       text NOT NULL REFERENCES items (id),
  annotation_id text NOT NULL REFERENCES annotations (id),
  split         text NOT NULL CHECK (split IN ('train', 'eval')),
  PRIMARY KEY (version_id, item_id)
);

CREATE TABLE training_runs (
  id                 text PRIMARY KEY,
  line               text NOT NULL,
  dataset_version_id text NOT NULL REFERENCES dataset_versions (id),
  state              text NOT NULL CHECK (state IN ('launching', 'running', 'succeeded', 'failed', 'cancelled')),
  attempt            integer NOT NULL DEFAULT 1,
  execution_name     text,
  output_prefix      text NOT NULL,
  params             jsonb NOT NULL DEFAULT '{}'::jsonb,
  self_reported      jsonb,
  error              text,
  created_at         timestamptz NOT NULL DEFAULT now(),
  started_at         timestamptz,
  finished_at        timestamptz,
  updated_at         timestamptz NOT NULL DEFAULT now(),
  UNIQUE (dataset_version_id)
);
-- Single flight: at most one run in flight per dataset line, enforced here, not by a check-then-act.
CREATE UNIQUE INDEX training_runs_one_in_flight ON training_runs (line) WHERE state IN ('launching', 'running');

CREATE TABLE models (
  id              text PRIMARY KEY,
  training_run_id text UNIQUE REFERENCES training_runs (id),
  name            text NOT NULL,
  task            text NOT NULL,
  uri             text NOT NULL,
  card            jsonb NOT NULL,
  dataset_version_id text REFERENCES dataset_versions (id),
  created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE evaluations (
  id                 text PRIMARY KEY,
  candidate_model_id text NOT NULL REFERENCES models (id),
  champion_model_id  text REFERENCES models (id),
  dataset_version_id text NOT NULL REFERENCES dataset_versions (id),
  state              text NOT NULL CHECK (state IN ('launching', 'running', 'succeeded', 'failed')),
  execution_name     text,
  attempt            integer NOT NULL DEFAULT 1,
  report_uri         text,
  summary_uri        text,
  -- {"candidate": {...}, "champion": {...}, "items": n} copied from the report for the dashboard.
  metrics            jsonb,
  error              text,
  created_at         timestamptz NOT NULL DEFAULT now(),
  finished_at        timestamptz,
  updated_at         timestamptz NOT NULL DEFAULT now(),
  UNIQUE (candidate_model_id, dataset_version_id)
);

-- Every promotion decision with its reasons: by policy, or by a person (approve/reject/promote).
CREATE TABLE promotion_decisions (
  id            text PRIMARY KEY,
  evaluation_id text REFERENCES evaluations (id),
  model_id      text NOT NULL REFERENCES models (id),
  alias         text NOT NULL,
  outcome       text NOT NULL CHECK (outcome IN ('promote', 'refuse', 'review', 'approved', 'rejected')),
  reasons       jsonb NOT NULL DEFAULT '[]'::jsonb,
  checks        jsonb NOT NULL DEFAULT '[]'::jsonb,
  policy        jsonb,
  actor         text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
-- The policy decides once per evaluation and alias; people add approved/rejected rows.
CREATE UNIQUE INDEX promotion_decisions_policy_once ON promotion_decisions (evaluation_id, alias)
  WHERE outcome IN ('promote', 'refuse', 'review');
CREATE UNIQUE INDEX promotion_decisions_review_once ON promotion_decisions (evaluation_id, alias)
  WHERE outcome IN ('approved', 'rejected');

-- Alias history, append-only: the current holder is the latest row; a rollback is another row.
CREATE TABLE alias_moves (
  id                bigserial PRIMARY KEY,
  alias             text NOT NULL,
  model_id          text NOT NULL REFERENCES models (id),
  previous_model_id text REFERENCES models (id),
  decision_id       text REFERENCES promotion_decisions (id),
  actor             text NOT NULL,
  reason            text NOT NULL,
  -- The message that caused the move: a redelivered message cannot move an alias twice.
  cause_id          text NOT NULL,
  moved_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (alias, cause_id)
);
CREATE INDEX alias_moves_alias_idx ON alias_moves (alias, id DESC);

CREATE FUNCTION alias_moves_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'alias_moves is append-only: record a new move instead';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER alias_moves_no_update BEFORE UPDATE OR DELETE ON alias_moves
  FOR EACH ROW EXECUTE FUNCTION alias_moves_append_only();

-- Consumers' processed message ids, written in the same transaction as the effect.
CREATE TABLE inbox (
  consumer     text NOT NULL,
  message_id   text NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, message_id)
);

-- Transactional outbox: written with the effect, published after commit, republished by reconcile.
CREATE TABLE outbox (
  id         text PRIMARY KEY,
  type       text NOT NULL,
  topic      text NOT NULL,
  envelope   jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  sent_at    timestamptz,
  attempts   integer NOT NULL DEFAULT 0,
  last_error text
);
CREATE INDEX outbox_unsent_idx ON outbox (created_at) WHERE sent_at IS NULL;

-- Messages given up on (malformed, too old, out of attempts), kept for inspection and replay.
CREATE TABLE dead_letters (
  id          bigserial PRIMARY KEY,
  consumer    text NOT NULL,
  message_id  text,
  reason      text NOT NULL,
  payload     jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- The local runtime's stand-in for Pub/Sub push subscriptions: one row per message and consumer,
-- delivered with retry, backoff and dead-lettering. Unused in the cloud.
CREATE TABLE local_deliveries (
  message_id      text NOT NULL,
  consumer        text NOT NULL,
  envelope        jsonb NOT NULL,
  state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'inflight', 'done', 'dead')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  lease_until     timestamptz,
  last_error      text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (message_id, consumer)
);
CREATE INDEX local_deliveries_due_idx ON local_deliveries (next_attempt_at) WHERE state = 'pending';

-- Notifications sent (any notifier), for the dashboard and for Slack threading.
CREATE TABLE notifications (
  id          bigserial PRIMARY KEY,
  severity    text NOT NULL,
  thread_key  text,
  title       text NOT NULL,
  text        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
