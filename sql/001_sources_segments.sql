-- Videos (one row per video, whatever its source) and their speaker-attributed, embedded segments.
-- Column names are a contract other tools query: add columns, never rename.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE sources (
    id            bigserial PRIMARY KEY,
    source_type   text NOT NULL CHECK (source_type IN ('youtube', 'rss', 'local')),
    video_id      text NOT NULL UNIQUE,              -- the Dagster partition key
    title         text,
    url           text NOT NULL,
    published_at  timestamptz,
    duration_s    double precision CHECK (duration_s IS NULL OR duration_s >= 0),
    status        text NOT NULL DEFAULT 'discovered'
                  CHECK (status IN ('discovered', 'downloaded', 'transcribed', 'diarized', 'labelled',
                                    'done', 'failed', 'skipped')),
    error         text,
    metadata      jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,                       -- first stage began (this ingestion)
    finished_at   timestamptz                        -- segments written
);

CREATE TABLE segments (
    id               bigserial PRIMARY KEY,
    source_id        bigint NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    seq              integer NOT NULL CHECK (seq >= 0),
    start_s          double precision NOT NULL CHECK (start_s >= 0),
    end_s            double precision NOT NULL,
    speaker          text NOT NULL,
    speaker_conf     real,
    text             text NOT NULL CHECK (length(btrim(text)) > 0),
    embedding        vector(384) NOT NULL,
    embedding_model  text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (end_s > start_s),
    -- no two rows for the same place in a video: a re-run must replace, it cannot append
    UNIQUE (source_id, seq),
    UNIQUE (source_id, start_s, end_s)
);

CREATE INDEX segments_embedding_hnsw ON segments USING hnsw (embedding vector_cosine_ops);
CREATE INDEX segments_speaker ON segments (speaker);
CREATE INDEX sources_status ON sources (status);
