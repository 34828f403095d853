-- The dashboard's item gallery lists the most recently changed items (all states: the per-state
-- list reads items_state_idx), and an item's page lists the dataset memberships that hold it.
-- Both read a page of rows through an index, whatever the table size.
CREATE INDEX items_recent_idx ON items (state_changed_at DESC, id DESC);
CREATE INDEX dataset_members_item_idx ON dataset_members (item_id);
