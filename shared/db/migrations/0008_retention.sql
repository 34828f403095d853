-- Retention and bounded retries (README "What is kept, and for how long").
--
-- Operational rows are deleted in small batches by `reconcile` once they can no longer matter:
-- each delete below walks one of these indexes from its oldest end.
CREATE INDEX inbox_processed_idx ON inbox (processed_at);
CREATE INDEX outbox_sent_idx ON outbox (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX local_deliveries_finished_idx ON local_deliveries (updated_at) WHERE state IN ('done', 'dead');
CREATE INDEX notifications_created_idx ON notifications (created_at);
CREATE INDEX slack_threads_created_idx ON slack_threads (created_at);

-- The local dispatcher's start (inflight rows) and idle check (due rows) read only these small sets.
CREATE INDEX local_deliveries_inflight_idx ON local_deliveries (message_id, consumer) WHERE state = 'inflight';

-- The funnel no longer reads transitions (counters, 0007); retention walks them by time.
DROP INDEX item_transitions_at_idx;
CREATE INDEX item_transitions_time_idx ON item_transitions (at);

-- Transitions older than the retention window are rolled up per day into counts, then deleted:
-- the throughput history stays, the per-item detail goes.
CREATE TABLE item_transition_days (
  day        date NOT NULL,
  from_state text NOT NULL,   -- '' for an item's first state
  to_state   text NOT NULL,
  n          bigint NOT NULL,
  PRIMARY KEY (day, from_state, to_state)
);

-- Stuck items are retried with back-off: `retry_at` is when reconcile may retry next
-- (NULL: after the stuck threshold since the item entered its state).
ALTER TABLE items ADD COLUMN retry_at timestamptz;
