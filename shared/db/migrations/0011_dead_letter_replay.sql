-- `mlops command replay <dead letter>` re-drives a dead-lettered message once its cause is fixed.
-- A dead letter is replayed at most once (the replay itself may be dead-lettered again, as a new row).
ALTER TABLE dead_letters ADD COLUMN replayed_at timestamptz;
ALTER TABLE dead_letters ADD COLUMN replayed_by text;
ALTER TABLE dead_letters ADD COLUMN replay_message_id text;
CREATE INDEX dead_letters_message_idx ON dead_letters (message_id);
