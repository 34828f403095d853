-- Dataset membership stored once per (line, item, annotation) instead of once per version.
--
-- Before: dataset_version_items held every member of every version again (versions × dataset size
-- rows), so each freeze wrote and foreign-key-checked the whole dataset. Now a member row says from
-- which version (added_seq) until which version (removed_seq, exclusive; NULL = still a member) an
-- item belongs to a line with one annotation and split. The members of version `seq` of a line are
-- the rows with added_seq <= seq AND (removed_seq IS NULL OR removed_seq > seq). A freeze writes
-- only what changed: new members, and a closed row plus a new one when an item's label changed.
--
-- No foreign keys: items and annotations are never deleted (retention keeps them), the rows are
-- written from a join of the two, and a check per row is what made the old freeze lock and probe
-- every member; a freeze of 10 000 items would still pay 20 000 probes for nothing.
CREATE TABLE dataset_members (
  line          text NOT NULL,
  item_id       text NOT NULL,
  added_seq     integer NOT NULL,
  removed_seq   integer,
  annotation_id text NOT NULL,
  -- Pinned when the item joins the line: an evaluation sample never moves into training.
  split         text NOT NULL CHECK (split IN ('train', 'eval')),
  CHECK (removed_seq IS NULL OR removed_seq > added_seq)
);
-- The keys use the "C" collation: members are paged in byte order of the item id, which is the
-- order of a manifest's items whatever the database's default collation.
CREATE UNIQUE INDEX dataset_members_key ON dataset_members (line, item_id COLLATE "C", added_seq);
-- At most one current membership per item and line.
CREATE UNIQUE INDEX dataset_members_current ON dataset_members (line, item_id COLLATE "C") WHERE removed_seq IS NULL;

-- Content-addressed exports of an accepted label (label JSON, YOLO txt, mask PNG), written once
-- when the label is taken in (or by the first freeze that needs them) and shared by every version.
ALTER TABLE annotations ADD COLUMN exports jsonb;

-- Move the old layout over. Consecutive versions of a line that hold an item with the same
-- annotation and split become one row ("gaps and islands": the version's position in its line
-- minus the item's running count is constant within an island).
WITH positioned AS (
  SELECT v.line, v.seq, dense_rank() OVER (PARTITION BY v.line ORDER BY v.seq) AS pos
  FROM dataset_versions v
),
memberships AS (
  SELECT p.line, p.seq, p.pos, dvi.item_id, dvi.annotation_id, dvi.split,
         p.pos - row_number() OVER (PARTITION BY p.line, dvi.item_id, dvi.annotation_id, dvi.split ORDER BY p.seq) AS island
  FROM dataset_version_items dvi
  JOIN dataset_versions v ON v.id = dvi.version_id
  JOIN positioned p ON p.line = v.line AND p.seq = v.seq
),
islands AS (
  SELECT line, item_id, annotation_id, split, min(seq) AS first_seq, max(seq) AS last_seq
  FROM memberships
  GROUP BY line, item_id, annotation_id, split, island
)
INSERT INTO dataset_members (line, item_id, added_seq, removed_seq, annotation_id, split)
SELECT i.line, i.item_id, i.first_seq,
       (SELECT min(v.seq) FROM dataset_versions v WHERE v.line = i.line AND v.seq > i.last_seq),
       i.annotation_id, i.split
FROM islands i;

DROP TABLE dataset_version_items;

CREATE INDEX dataset_versions_created_idx ON dataset_versions (created_at DESC);

-- The next freeze pages through the items waiting for it (state `accepted`) in item-id byte order.
CREATE INDEX items_accepted_idx ON items (id COLLATE "C") WHERE state = 'accepted';
