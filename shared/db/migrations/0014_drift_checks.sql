-- Results of the input drift check (reconcile), newest last. `features` holds one
-- {name, psi, ks, ksPValue, drifted} per feature; `mlops status --json` and /metrics show the latest.
CREATE TABLE drift_checks (
  id                         bigserial PRIMARY KEY,
  alias                      text NOT NULL,
  model_id                   text,
  reference_dataset_version  text,
  reference_images           integer NOT NULL,
  window_images              integer NOT NULL,
  features                   jsonb NOT NULL,
  drifted                    boolean NOT NULL,
  -- Why no verdict was possible (no model behind the alias, too few images), else null.
  skipped_reason             text,
  checked_at                 timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX drift_checks_recent_idx ON drift_checks (checked_at DESC, id DESC);
