-- The planner's estimate of how many segments hold each stemmed word of a query (pg_stats of tsv, kept by
-- ANALYZE: the most common lexemes and their frequencies; a word not among them is taken as common as the
-- rarest that is). rare_words_tsquery (003) now reads its estimates here.
CREATE OR REPLACE FUNCTION word_estimates(query text) RETURNS TABLE (word text, rows double precision)
    LANGUAGE sql STABLE PARALLEL SAFE STRICT AS $$
    WITH stats AS MATERIALIZED (
        SELECT s.most_common_elems::text::text[] AS lexemes, s.most_common_elem_freqs AS freqs,
               (SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'segments'::regclass) AS total
        FROM pg_stats s WHERE s.schemaname = current_schema() AND s.tablename = 'segments' AND s.attname = 'tsv')
    SELECT w.word, coalesce(
        (SELECT st.freqs[array_position(st.lexemes, w.word)] * st.total FROM stats st),
        (SELECT st.freqs[array_length(st.lexemes, 1) + 1] * st.total FROM stats st),
        0)
    FROM unnest(tsvector_to_array(to_tsvector('english', query))) AS w(word)
$$;

CREATE OR REPLACE FUNCTION rare_words_tsquery(query text, max_rows double precision) RETURNS tsquery
    LANGUAGE sql STABLE PARALLEL SAFE STRICT AS $$
    WITH kept AS (SELECT word, sum(rows) OVER (ORDER BY rows, word) AS running FROM word_estimates(query))
    SELECT tsquery_any(('''' || replace(replace(word, '\', '\\'), '''', '''''') || '''')::tsquery)
    FROM kept WHERE running <= max_rows
$$;

CREATE OR REPLACE AGGREGATE tsquery_and_all (tsquery) (SFUNC = tsquery_and, STYPE = tsquery);

-- When every word is too common to rank on: the segments holding all of the n rarest. A GIN scan for an AND
-- walks every word's posting list, so at 1 M segments seven common words cost ~35 ms where four cost less;
-- and a long question seldom has all its words in one segment. NULL when the text has no lexeme.
CREATE OR REPLACE FUNCTION rarest_words_tsquery(query text, n integer) RETURNS tsquery
    LANGUAGE sql STABLE PARALLEL SAFE STRICT AS $$
    SELECT tsquery_and_all(q) FROM (
        SELECT ('''' || replace(replace(word, '\', '\\'), '''', '''''') || '''')::tsquery AS q
        FROM word_estimates(query) ORDER BY rows, word LIMIT n) rarest
$$;
