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

-- The words worth ranking on: a lexeme that alone would match more than max_rows segments (by the planner's
-- statistics of tsv, kept by ANALYZE) costs a ranking pass over all of them and, like a stop word, says
-- little about which segment answers. Small corpora drop nothing. When every word is that common, NULL.
CREATE OR REPLACE FUNCTION rare_words_tsquery(query text, max_rows double precision) RETURNS tsquery
    LANGUAGE sql STABLE PARALLEL SAFE STRICT AS $$
    WITH common AS (
        SELECT e AS lexeme, f * (SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'segments'::regclass) AS rows
        FROM pg_stats s, unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) AS x(e, f)
        WHERE s.schemaname = current_schema() AND s.tablename = 'segments' AND s.attname = 'tsv')
    SELECT tsquery_any(('''' || replace(replace(word, '\', '\\'), '''', '''''') || '''')::tsquery)
    FROM unnest(tsvector_to_array(to_tsvector('english', query))) AS word
    WHERE coalesce((SELECT c.rows FROM common c WHERE c.lexeme = word LIMIT 1), 0) <= max_rows
$$;
