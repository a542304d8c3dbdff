-- Tables the hostile-input cases refer to.
CREATE TABLE hv (id int PRIMARY KEY, v vector(3), nd vector, big vector(2001), h halfvec(3), t text);
INSERT INTO hv SELECT i, ARRAY[i, i + 1, i + 2]::vector(3), ARRAY[i]::vector, array_fill(i, ARRAY[2001])::vector(2001),
  ARRAY[i, 1, 2]::halfvec(3), i::text FROM generate_series(1, 50) i;
CREATE INDEX hv_v_idx ON hv USING hnsw (v vector_l2_ops);
