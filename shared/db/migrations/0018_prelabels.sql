-- Pre-labels and labelling priority (README "Pre-labels and priority"): one row per item, claimed
-- before the item is predicted and sent to the annotation backend, done (with the mask, the model
-- and the priority with its components) or failed (with the reason; registration never waits on it).
CREATE TABLE prelabels (
  item_id     text PRIMARY KEY REFERENCES items (id) ON DELETE CASCADE,
  state       text NOT NULL CHECK (state IN ('claimed', 'done', 'failed')),
  alias       text NOT NULL,
  model_id    text,
  mask_uri    text,
  priority    double precision,
  -- {"uncertainty", "boundary", "novelty", "margin", "weights": {…}}: what the score was made of.
  components  jsonb,
  reason      text,
  error       text,
  attempts    integer NOT NULL DEFAULT 0,
  claim_token text,
  claim_until timestamptz,
  -- In the annotation queue: done and the item still waiting for its label (kept by the trigger below).
  queued      boolean NOT NULL DEFAULT false,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CHECK ((state = 'done') = (priority IS NOT NULL)),
  CHECK (NOT queued OR state = 'done')
);
-- The dashboard's queue: highest priority first, a keyset page through this index.
CREATE INDEX prelabels_queue_idx ON prelabels (priority DESC, item_id DESC) WHERE queued;

-- An item that leaves `registered` (labelled, failed) leaves the queue in the same statement.
CREATE FUNCTION prelabels_follow_item() RETURNS trigger AS $$
BEGIN
  UPDATE prelabels SET queued = (NEW.state = 'registered' AND state = 'done')
  WHERE item_id = NEW.id AND queued <> (NEW.state = 'registered' AND state = 'done');
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER items_prelabel_queue AFTER UPDATE OF state ON items
  FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION prelabels_follow_item();
