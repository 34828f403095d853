-- Status counters kept in the same transaction as every item change, so the dashboard reads a few
-- rows instead of counting items and their whole transition history.
--
-- items.reached_states: every state the item has ever been in (the funnel: "items that ever
-- reached X" is how many items have X here). item_state_counts: per state, the items in it now
-- (`current`) and the items that ever reached it (`reached`), spread over a few shards so that
-- concurrent transactions rarely wait on the same counter row. Both are maintained by triggers, so
-- any statement that changes an item's state keeps them right, and a new state needs no code.

ALTER TABLE items ADD COLUMN reached_states text[] NOT NULL DEFAULT '{}';

-- Existing items: the states their transitions reached, and the one they are in.
UPDATE items i SET reached_states = r.states
FROM (
  SELECT s.item_id, array_agg(DISTINCT s.state ORDER BY s.state) AS states
  FROM (SELECT item_id, to_state AS state FROM item_transitions UNION SELECT id, state FROM items) s
  GROUP BY s.item_id
) r
WHERE r.item_id = i.id;

CREATE TABLE item_state_counts (
  state   text NOT NULL,
  shard   integer NOT NULL,
  current bigint NOT NULL DEFAULT 0,
  reached bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (state, shard)
);

INSERT INTO item_state_counts (state, shard, current, reached)
SELECT s.state, 0, coalesce(c.n, 0), coalesce(r.n, 0)
FROM (SELECT DISTINCT state FROM items UNION SELECT DISTINCT unnest(reached_states) FROM items) s
LEFT JOIN (SELECT state, count(*) AS n FROM items GROUP BY state) c ON c.state = s.state
LEFT JOIN (SELECT unnest(reached_states) AS state, count(*) AS n FROM items GROUP BY 1) r ON r.state = s.state;

-- Before a row is written: remember the state it enters.
CREATE FUNCTION items_remember_state() RETURNS trigger AS $$
BEGIN
  IF NOT (NEW.state = ANY (NEW.reached_states)) THEN
    NEW.reached_states := NEW.reached_states || NEW.state;
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER items_remember_state BEFORE INSERT OR UPDATE OF state ON items
  FOR EACH ROW EXECUTE FUNCTION items_remember_state();

-- After each statement: one upsert per state whose counts it changed, from the statement's old and
-- new rows (one statement however many rows: a freeze moves thousands of items at once). Without a
-- join: every updated row is in both transition tables, so per state, new minus old is the change
-- of `current`, and new minus old of reached_states the items that reached it now. Updates that do
-- not change a state (claims, attempt counts) cancel out and write nothing.
CREATE FUNCTION items_count_states() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    INSERT INTO item_state_counts AS c (state, shard, current, reached)
    SELECT d.state, pg_backend_pid() % 8, sum(d.dc), sum(d.dr)
    FROM (SELECT state, 1 AS dc, 0 AS dr FROM new_rows UNION ALL SELECT state, -1, 0 FROM old_rows
          UNION ALL SELECT s, 0, 1 FROM new_rows, unnest(reached_states) s
          UNION ALL SELECT s, 0, -1 FROM old_rows, unnest(reached_states) s) d
    GROUP BY d.state HAVING sum(d.dc) <> 0 OR sum(d.dr) <> 0
    ON CONFLICT (state, shard) DO UPDATE SET current = c.current + excluded.current, reached = c.reached + excluded.reached;
  ELSIF TG_OP = 'INSERT' THEN
    INSERT INTO item_state_counts AS c (state, shard, current, reached)
    SELECT d.state, pg_backend_pid() % 8, sum(d.dc), sum(d.dr)
    FROM (SELECT state, 1 AS dc, 0 AS dr FROM new_rows UNION ALL SELECT s, 0, 1 FROM new_rows, unnest(reached_states) s) d
    GROUP BY d.state
    ON CONFLICT (state, shard) DO UPDATE SET current = c.current + excluded.current, reached = c.reached + excluded.reached;
  ELSE
    INSERT INTO item_state_counts AS c (state, shard, current, reached)
    SELECT d.state, pg_backend_pid() % 8, sum(d.dc), sum(d.dr)
    FROM (SELECT state, -1 AS dc, 0 AS dr FROM old_rows UNION ALL SELECT s, 0, -1 FROM old_rows, unnest(reached_states) s) d
    GROUP BY d.state
    ON CONFLICT (state, shard) DO UPDATE SET current = c.current + excluded.current, reached = c.reached + excluded.reached;
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER items_count_inserts AFTER INSERT ON items REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION items_count_states();
CREATE TRIGGER items_count_updates AFTER UPDATE ON items REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION items_count_states();
CREATE TRIGGER items_count_deletes AFTER DELETE ON items REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION items_count_states();

-- Bounded lists on the dashboard: newest failures and dead letters first, by index. (On
-- state_changed_at, which items_state_idx indexes already: an index on updated_at would make
-- every claim and attempt count a non-HOT update of all the items' indexes.)
CREATE INDEX items_failed_idx ON items (state_changed_at DESC, id DESC) WHERE state = 'failed';
CREATE INDEX dead_letters_created_idx ON dead_letters (created_at DESC, id DESC);
CREATE INDEX training_runs_created_idx ON training_runs (created_at DESC);
CREATE INDEX evaluations_created_idx ON evaluations (created_at DESC);
CREATE INDEX models_created_idx ON models (created_at DESC);
