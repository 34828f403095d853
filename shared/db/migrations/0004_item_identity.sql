-- Item identity that cannot collide under concurrent uploads, duplicate content, and the split key.
--
-- title: the item's name at the annotation backend AND its folder in the annotation bucket
--   (`items/<title>/<title>_rgb.png`). Unique without regard to case (a case-insensitive file
--   system — a laptop running the local runtime — would otherwise merge `Scene_1/` and `scene_1/`).
--   `ingest` claims it with an UPDATE that this index refuses when taken, then tries the next
--   deterministic candidate; never a check-then-act. A title, once claimed, stays with its item.
-- split_key: what the train/eval split hashes. It survives re-uploads: a new generation of an
--   object inherits the key of the earliest live generation of the same object name.
-- duplicate_of: for state `duplicate`, the live item with the same bytes.
-- warnings: what the normaliser noticed but accepted (e.g. `single_value: …`).
ALTER TABLE items
  ADD COLUMN title text,
  ADD COLUMN split_key text,
  ADD COLUMN duplicate_of text REFERENCES items (id),
  ADD COLUMN warnings jsonb NOT NULL DEFAULT '[]'::jsonb;

ALTER TABLE items DROP CONSTRAINT items_state_check;
ALTER TABLE items ADD CONSTRAINT items_state_check
  CHECK (state IN ('seen', 'normalised', 'registered', 'annotated', 'accepted', 'rejected', 'in_dataset', 'failed', 'duplicate'));
ALTER TABLE items ADD CONSTRAINT items_duplicate_of_check CHECK (state <> 'duplicate' OR duplicate_of IS NOT NULL);

-- Existing items keep exactly the key they were split by until now (product name, else id), so no
-- evaluation sample moves into training.
UPDATE items SET split_key = coalesce(product_name, id);
ALTER TABLE items ALTER COLUMN split_key SET NOT NULL;

-- A row written without a split key (by hand, or by an older writer) gets that same legacy rule.
CREATE FUNCTION items_split_key_default() RETURNS trigger AS $$
BEGIN
  NEW.split_key := coalesce(NEW.split_key, NEW.product_name, NEW.id);
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER items_split_key_default BEFORE INSERT ON items
  FOR EACH ROW EXECUTE FUNCTION items_split_key_default();

-- Existing items were registered under their product name (which was also their folder). Labels
-- coming back by title must keep finding the item they found before (the newest live one); any
-- other item with that name gets its id appended.
UPDATE items i
SET title = CASE WHEN ranked.rn = 1 THEN i.product_name ELSE i.product_name || '-' || substr(i.id, 4) END
FROM (
  SELECT id, row_number() OVER (PARTITION BY lower(product_name) ORDER BY (state = 'failed'), created_at DESC, id) AS rn
  FROM items WHERE product_name IS NOT NULL
) ranked
WHERE ranked.id = i.id;
CREATE UNIQUE INDEX items_title_key ON items (lower(title));

-- One live item per content: a row per SHA-256, inserted by `ingest` in the transaction that
-- decides between "claimed" and "duplicate". Released when the owning item fails.
CREATE TABLE content_claims (
  sha256     text PRIMARY KEY,
  item_id    text NOT NULL UNIQUE REFERENCES items (id),
  claimed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO content_claims (sha256, item_id)
SELECT DISTINCT ON (content_sha256) content_sha256, id FROM items
WHERE content_sha256 IS NOT NULL AND state <> 'failed'
ORDER BY content_sha256, created_at, id;

-- The status snapshot lists items with warnings; most items have none.
CREATE INDEX items_warned_idx ON items (updated_at) WHERE warnings <> '[]'::jsonb;
