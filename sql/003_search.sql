-- Search as the question-answering site does it: full text beside the vectors, and the filters' indexes.
-- `tsv` is derived from `text` (English stemming), so no writer has to fill it and it cannot go stale.
ALTER TABLE segments ADD COLUMN IF NOT EXISTS tsv tsvector
    GENERATED ALWAYS AS (to_tsvector('english', text)) STORED;
CREATE INDEX IF NOT EXISTS segments_tsv_gin ON segments USING gin (tsv);
-- the speaker filter ignores case; published dates bound a date-range filter
CREATE INDEX IF NOT EXISTS segments_speaker_lower ON segments (lower(speaker));
CREATE INDEX IF NOT EXISTS sources_published_at ON sources (published_at);

-- Any of a question's words (a user's question rarely has all of them in one segment):
-- to_tsvector's stemmed lexemes OR'ed together. NULL when the text has no lexeme (stop words only).
CREATE OR REPLACE AGGREGATE tsquery_any (tsquery) (SFUNC = tsquery_or, STYPE = tsquery);
CREATE OR REPLACE FUNCTION any_words_tsquery(query text) RETURNS tsquery
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT tsquery_any(('''' || replace(replace(lexeme, '\', '\\'), '''', '''''') || '''')::tsquery)
    FROM unnest(tsvector_to_array(to_tsvector('english', query))) AS lexeme
$$;
