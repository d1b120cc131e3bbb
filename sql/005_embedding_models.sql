-- Embedding models without downtime. One model serves search; a new one is added as 'backfilling', gets a
-- vector for every segment beside the serving one (ingest writes both meanwhile), then its HNSW index, and
-- search switches to it in one transaction once nothing is missing (store/embedding_models.py).
CREATE TABLE IF NOT EXISTS embedding_models (
    name           text PRIMARY KEY,
    dim            integer NOT NULL CHECK (dim > 0),
    state          text NOT NULL CHECK (state IN ('backfilling', 'serving', 'retired')),
    -- its vectors are segments.embedding (vector(384), the first model's) rather than rows of segment_vectors
    in_column      boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    serving_since  timestamptz,
    CHECK (NOT in_column OR dim = 384)
);
CREATE UNIQUE INDEX IF NOT EXISTS embedding_models_one_serving ON embedding_models ((true)) WHERE state = 'serving';
CREATE UNIQUE INDEX IF NOT EXISTS embedding_models_one_backfilling ON embedding_models ((true)) WHERE state = 'backfilling';
CREATE UNIQUE INDEX IF NOT EXISTS embedding_models_one_in_column ON embedding_models ((true)) WHERE in_column;

-- Vectors of every model but the one in the column, any dimension. source_id and speaker are the segment's
-- (a segment is never updated, only replaced), so the search's filters need no join. Each model gets a partial
-- HNSW index on (embedding::vector(dim)) WHERE model = its name, built when its backfill completes.
CREATE TABLE IF NOT EXISTS segment_vectors (
    model       text NOT NULL REFERENCES embedding_models (name) ON DELETE CASCADE,
    segment_id  bigint NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    source_id   bigint NOT NULL,
    speaker     text NOT NULL,
    embedding   vector NOT NULL,
    PRIMARY KEY (model, segment_id)
);
CREATE INDEX IF NOT EXISTS segment_vectors_segment ON segment_vectors (segment_id);
CREATE INDEX IF NOT EXISTS segment_vectors_speaker ON segment_vectors (model, lower(speaker));
CREATE INDEX IF NOT EXISTS segment_vectors_source ON segment_vectors (model, source_id);

-- Once the column's model is retired, new segments have no vector there.
ALTER TABLE segments ALTER COLUMN embedding DROP NOT NULL, ALTER COLUMN embedding_model DROP NOT NULL,
    ADD CONSTRAINT segments_embedding_named CHECK ((embedding IS NULL) = (embedding_model IS NULL)) NOT VALID;

-- A corpus stored before this migration: its model serves, from the column.
INSERT INTO embedding_models (name, dim, state, in_column, serving_since)
SELECT embedding_model, 384, 'serving', true, now() FROM (SELECT embedding_model FROM segments LIMIT 1) first
ON CONFLICT DO NOTHING;
