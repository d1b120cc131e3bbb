-- What the listing and the video page say about each video, as columns other tools can query.
-- (title, url, published_at and duration_s are in 001; the download path and the rest stay in metadata.)
ALTER TABLE sources ADD COLUMN IF NOT EXISTS description text;
ALTER TABLE sources ADD COLUMN IF NOT EXISTS channel text;
ALTER TABLE sources ADD COLUMN IF NOT EXISTS view_count bigint CHECK (view_count IS NULL OR view_count >= 0);
