-- Registration jobs of asynchronous backends (Encord upload jobs). Starting an upload job is not
-- idempotent and Encord offers no idempotency token, so the job id is kept from the moment Encord
-- returns it: a registration retried after its wait gave up resumes waiting on the same job.
CREATE TABLE registration_jobs (
  id          text PRIMARY KEY,                 -- ours (`rjob_…`), given when the items are claimed
  backend     text NOT NULL,
  job_id      text,                             -- the backend's, once it accepted the job
  state       text NOT NULL CHECK (state IN ('claimed', 'started', 'settled', 'abandoned')),
  item_ids    jsonb NOT NULL DEFAULT '[]'::jsonb,
  detail      jsonb NOT NULL DEFAULT '{}'::jsonb, -- what resuming needs (e.g. the Encord folder)
  outcome     text,
  claimed_at  timestamptz NOT NULL DEFAULT now(),
  started_at  timestamptz,
  settled_at  timestamptz
);
CREATE UNIQUE INDEX registration_jobs_backend_job_idx ON registration_jobs (backend, job_id) WHERE job_id IS NOT NULL;
CREATE INDEX registration_jobs_open_idx ON registration_jobs (backend, claimed_at) WHERE state IN ('claimed', 'started');

-- The claim: an item belongs to at most one open job per backend. A row lives only while its job is
-- open (claimed or started); two concurrent registrations inserting the same item conflict on the
-- primary key, so only one of them starts a job for it.
CREATE TABLE registration_job_items (
  backend  text NOT NULL,
  item_id  text NOT NULL REFERENCES items (id),
  job      text NOT NULL REFERENCES registration_jobs (id) ON DELETE CASCADE,
  PRIMARY KEY (backend, item_id)
);
CREATE INDEX registration_job_items_job_idx ON registration_job_items (job);

-- Every label revision a poll has processed, whatever came of it (accepted, rejected, or matching no
-- item). The poll lists finished labels and skips what is here, so a revision is fetched and judged
-- once, and a label for an unknown item is put on record once, not on every poll.
CREATE TABLE label_revisions (
  backend    text NOT NULL,
  label_id   text NOT NULL,
  edited_at  timestamptz NOT NULL,
  outcome    text NOT NULL CHECK (outcome IN ('accepted', 'rejected', 'unmatched')),
  item_id    text,
  notes      jsonb NOT NULL DEFAULT '[]'::jsonb,
  seen_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (backend, label_id, edited_at)
);
INSERT INTO label_revisions (backend, label_id, edited_at, outcome, item_id, seen_at)
  SELECT backend, label_id, edited_at, verdict, item_id, received_at FROM annotations
  ON CONFLICT DO NOTHING;
