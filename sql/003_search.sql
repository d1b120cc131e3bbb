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

-- The words worth ranking on. Every segment holding a query word is ranked, so a common word costs a pass
-- over a large share of the table and, like a stop word, says little about which segment answers. From the
-- planner's statistics of tsv (ANALYZE keeps them: the most common lexemes and their frequencies; a word not
-- among them is taken as common as the rarest that is), the rarest words are kept while their estimated
-- matches add up to at most max_rows. Small corpora keep every word. NULL when the rarest alone is over it.
CREATE OR REPLACE FUNCTION rare_words_tsquery(query text, max_rows double precision) RETURNS tsquery
    LANGUAGE sql STABLE PARALLEL SAFE STRICT AS $$
    WITH stats AS MATERIALIZED (
        SELECT s.most_common_elems::text::text[] AS lexemes, s.most_common_elem_freqs AS freqs,
               (SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'segments'::regclass) AS total
        FROM pg_stats s WHERE s.schemaname = current_schema() AND s.tablename = 'segments' AND s.attname = 'tsv'),
    words AS (
        SELECT w.word, coalesce(
            (SELECT st.freqs[array_position(st.lexemes, w.word)] * st.total FROM stats st),
            (SELECT st.freqs[array_length(st.lexemes, 1) + 1] * st.total FROM stats st),  -- the rarest common one's
            0) AS rows
        FROM unnest(tsvector_to_array(to_tsvector('english', query))) AS w(word)),
    kept AS (SELECT word, sum(rows) OVER (ORDER BY rows, word) AS running FROM words)
    SELECT tsquery_any(('''' || replace(replace(word, '\', '\\'), '''', '''''') || '''')::tsquery)
    FROM kept WHERE running <= max_rows
$$;
