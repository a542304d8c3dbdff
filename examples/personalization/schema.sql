-- Personalization on lodestone: media items, users, interactions and learned
-- user profiles in one Postgres, next to the embeddings.
-- Loaded by examples/personalization/demo.py (see docs/ecosystem.md).

CREATE EXTENSION IF NOT EXISTS lodestone;

CREATE TABLE genres (
  id   smallint PRIMARY KEY,
  name text NOT NULL UNIQUE
);

CREATE TABLE platforms (
  id   smallint PRIMARY KEY,
  name text NOT NULL UNIQUE          -- 'theatrical', 'international', 'home video'
);

CREATE TABLE media_items (
  id            bigint PRIMARY KEY,
  title         text NOT NULL,
  genre_id      smallint REFERENCES genres,
  creative_type text,
  mpaa_rating   text,
  director      text,
  released      date,
  imdb_rating   real,
  platform_ids  smallint[] NOT NULL DEFAULT '{}',
  embedding     vector(256) NOT NULL
);
CREATE INDEX media_items_embedding_idx ON media_items USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);

CREATE TABLE users (
  id         bigint PRIMARY KEY,
  name       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- kind: 'view' (weight 1), 'like' (weight 3), 'skip' (weight 0: never learned from)
CREATE TABLE interactions (
  user_id bigint NOT NULL REFERENCES users,
  item_id bigint NOT NULL REFERENCES media_items,
  kind    text NOT NULL CHECK (kind IN ('view', 'like', 'skip')),
  weight  real NOT NULL CHECK (weight >= 0),
  ts      timestamptz NOT NULL,
  PRIMARY KEY (user_id, item_id, ts)
);
CREATE INDEX interactions_user_ts_idx ON interactions (user_id, ts);

CREATE TABLE user_profiles (
  user_id      bigint PRIMARY KEY REFERENCES users,
  profile      vector(256) NOT NULL,    -- exponential-decay preference (preference_ema)
  taste        vector(256),             -- weighted average of liked/viewed items (weighted_avg)
  interactions integer NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Learn every profile from the interaction log, in SQL: an exponential-decay
-- profile (each interaction moves it by alpha, in time order) and a
-- weighted-average taste (likes weigh 3, views 1, halved every half_life).
CREATE FUNCTION learn_profiles(alpha double precision DEFAULT 0.3, half_life interval DEFAULT '30 days')
RETURNS bigint LANGUAGE sql AS $$
  WITH events AS (
    SELECT i.user_id, i.ts, i.weight, m.embedding,
           max(i.ts) OVER (PARTITION BY i.user_id) AS last_ts
    FROM interactions i JOIN media_items m ON m.id = i.item_id
    WHERE i.kind <> 'skip'
  ), learned AS (
    SELECT user_id,
           preference_ema(embedding, alpha ORDER BY ts) AS profile,
           weighted_avg(embedding, weight * exp(-ln(2) * extract(epoch FROM last_ts - ts)::float8
                                                  / extract(epoch FROM half_life)::float8)) AS taste,
           count(*) AS n
    FROM events GROUP BY user_id
  ), upsert AS (
    INSERT INTO user_profiles (user_id, profile, taste, interactions, updated_at)
    SELECT user_id, profile, taste, n, now() FROM learned
    ON CONFLICT (user_id) DO UPDATE
      SET profile = EXCLUDED.profile, taste = EXCLUDED.taste,
          interactions = EXCLUDED.interactions, updated_at = EXCLUDED.updated_at
    RETURNING 1
  )
  SELECT count(*) FROM upsert
$$;

-- Online learning: record one interaction and move the user's profile toward
-- the item in the same transaction. Returns the new profile (NULL for a skip
-- by a user without a profile).
CREATE FUNCTION record_interaction(p_user bigint, p_item bigint, p_kind text, alpha double precision DEFAULT 0.3)
RETURNS vector LANGUAGE sql AS $$
  INSERT INTO interactions (user_id, item_id, kind, weight, ts)
  VALUES (p_user, p_item, p_kind, CASE p_kind WHEN 'like' THEN 3 WHEN 'view' THEN 1 ELSE 0 END, clock_timestamp());
  INSERT INTO user_profiles AS p (user_id, profile, interactions)
  SELECT p_user, l2_normalize(embedding), 1 FROM media_items WHERE id = p_item AND p_kind <> 'skip'
  ON CONFLICT (user_id) DO UPDATE
    SET profile = preference_update(p.profile, EXCLUDED.profile, alpha),
        interactions = p.interactions + 1, updated_at = now()
  RETURNING profile;
$$;

-- Recommendations: k-NN candidates from the hnsw index (filtered by platform,
-- unseen items only), then a hybrid re-rank mixing similarity, the share of
-- the item's genre in the user's history, and recency of release.
-- * PL/pgSQL with custom plans, so the planner sees the actual platform and
--   estimates the filter's selectivity (with a generic parameter it guesses
--   far too few matching rows and sorts instead of using the index);
-- * iterative index scans keep the filtered candidate list full;
-- * at this demo's catalogue size (3,201 films) reading and sorting every
--   matching film is cheaper, and the planner rightly does that;
--   enable_seqscan = off and enable_sort = off make it take the index path
--   that a catalogue of millions takes anyway (drop them in production and
--   let the planner choose). They add a huge constant to the plan's cost,
--   which would trigger JIT compilation (about a second per call): jit = off.
CREATE FUNCTION recommend(p_user bigint, p_platform text DEFAULT NULL, p_limit integer DEFAULT 10)
RETURNS TABLE (item_id bigint, title text, genre text, released date, distance double precision, score double precision)
LANGUAGE plpgsql STABLE
SET hnsw.iterative_scan = 'relaxed_order'
SET hnsw.ef_search = 100
SET enable_seqscan = off
SET enable_sort = off
SET jit = off
SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
  v_profile vector := (SELECT profile FROM user_profiles WHERE user_id = p_user);
  v_platform smallint := (SELECT id FROM platforms WHERE name = p_platform);
BEGIN
  IF p_platform IS NOT NULL AND v_platform IS NULL THEN
    RAISE EXCEPTION 'unknown platform: %', p_platform USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
  WITH candidates AS MATERIALIZED (
    SELECT m.id, m.title, m.genre_id, m.released, m.embedding <=> v_profile AS distance
    FROM media_items m
    WHERE (v_platform IS NULL OR m.platform_ids @> ARRAY[v_platform])
      AND NOT EXISTS (SELECT 1 FROM interactions i WHERE i.user_id = p_user AND i.item_id = m.id)
    ORDER BY m.embedding <=> v_profile
    LIMIT 100
  ), genre_share AS (
    SELECT m.genre_id, count(*)::float8 / sum(count(*)) OVER () AS share
    FROM interactions i JOIN media_items m ON m.id = i.item_id
    WHERE i.user_id = p_user AND i.kind <> 'skip'
    GROUP BY m.genre_id
  )
  SELECT c.id, c.title, g.name, c.released, c.distance,
         0.75 * (1 - c.distance)
       + 0.15 * coalesce(s.share, 0)
       + 0.10 * exp(-greatest(0, 2010 - extract(year FROM c.released)::float8) / 10) AS score
  FROM candidates c
  LEFT JOIN genre_share s ON s.genre_id IS NOT DISTINCT FROM c.genre_id
  LEFT JOIN genres g ON g.id = c.genre_id
  ORDER BY 6 DESC, 1
  LIMIT p_limit;
END
$$;
