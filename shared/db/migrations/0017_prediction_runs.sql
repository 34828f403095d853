-- Batch predictions (`mlops command predict <alias> <prefix>`), one row per command: the job run
-- with the same life as training runs and evaluations (launching → running → succeeded | failed,
-- launch claims and back-off as in 0010/0012). The model is resolved from the alias when the
-- command runs and kept here, so every execution of the run predicts with the same model.
CREATE TABLE prediction_runs (
  id                 text PRIMARY KEY,
  -- The command message that asked for it: a redelivered command finds its run.
  command_id         text NOT NULL UNIQUE,
  alias              text NOT NULL,
  model_id           text NOT NULL REFERENCES models (id),
  source_prefix      text NOT NULL,
  output_prefix      text NOT NULL,
  state              text NOT NULL CHECK (state IN ('launching', 'running', 'succeeded', 'failed')),
  attempt            integer NOT NULL DEFAULT 1,
  execution_name     text,
  summary_uri        text,
  ok_count           integer,
  failed_count       integer,
  error              text,
  actor              text NOT NULL,
  launch_failures    integer NOT NULL DEFAULT 0,
  next_launch_at     timestamptz,
  launch_claim_until timestamptz,
  created_at         timestamptz NOT NULL DEFAULT now(),
  finished_at        timestamptz,
  updated_at         timestamptz NOT NULL DEFAULT now()
);
-- Reconcile looks for runs to launch or to check.
CREATE INDEX prediction_runs_open_idx ON prediction_runs (state, updated_at) WHERE state IN ('launching', 'running');
