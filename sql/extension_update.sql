--
-- Version 0.2: dynamo_merge_union in C.  Installed at 0.1 (plpgsql), the
-- function's results on every case below are kept; after ALTER EXTENSION
-- ... UPDATE the C function must give the same, to the byte (the text of
-- the result: 1 and 1.0 are equal as jsonb but not the same answer).
--
CREATE EXTENSION dynamo_fdw VERSION '0.1';
SELECT extversion FROM pg_extension WHERE extname = 'dynamo_fdw';
SELECT l.lanname, p.provolatile, p.proisstrict
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.proname = 'dynamo_merge_union';

CREATE TABLE merge_cases (id int PRIMARY KEY, what text, vals jsonb[]);
INSERT INTO merge_cases VALUES
  (1, 'two carts (fdw_merge)', ARRAY['{"items": ["apple", "pear"]}', '{"items": ["fig"]}']::jsonb[]),
  (2, 'carts and a flag both have', ARRAY['{"items": ["bread", "tea"], "checked": true}', '{"items": ["jam"], "checked": true}']::jsonb[]),
  (3, 'arrays of strings', ARRAY['["b", "a"]', '["c", "a"]']::jsonb[]),
  (4, 'empty arrays', ARRAY['[]', '[]']::jsonb[]),
  (5, 'one array, unsorted, duplicates', ARRAY['["z", "a", "z", "m"]']::jsonb[]),
  (6, 'numbers equal as jsonb, few', ARRAY['[1, 1.0]', '[1.00, 2]']::jsonb[]),
  (7, 'numbers equal as jsonb, many', ARRAY['[3, 1.0, 2, 1, 0, 1.00, -1, 2.0, 1.000]', '[1.0000, 5, 2.00, 0.0, -1.0]']::jsonb[]),
  (8, 'nested arrays', ARRAY['[[1, 2], [1]]', '[[1, 2], [2, 1], [], [1.0, 2]]']::jsonb[]),
  (9, 'elements of every kind', ARRAY['[null, true, false, 1, "a", [1], {"a": 1}, ""]', '["a", {"a": 1}, {}, [], 0, null, {"a": 1.0}]']::jsonb[]),
  (10, 'an array and an object', ARRAY['[1]', '{"a": 1}']::jsonb[]),
  (11, 'numbers', ARRAY['1', '1']::jsonb[]),
  (12, 'strings', ARRAY['"a"', '"b"']::jsonb[]),
  (13, 'JSON nulls', ARRAY['null', 'null']::jsonb[]),
  (14, 'an SQL NULL among arrays', ARRAY['[1]', NULL]::jsonb[]),
  (15, 'an SQL NULL among objects', ARRAY[NULL, '{"a": 1}']::jsonb[]),
  (16, 'no versions', '{}'::jsonb[]),
  (17, 'no array at all', NULL),
  (18, 'objects: a field disagrees', ARRAY['{"a": 1, "b": [1]}', '{"a": 2, "b": [2]}']::jsonb[]),
  (19, 'objects: equal numbers spelt apart', ARRAY['{"a": 1.0, "b": [1]}', '{"a": 1, "b": [1.0, 2]}']::jsonb[]),
  (20, 'objects: an array and a scalar', ARRAY['{"a": [1]}', '{"a": 1}']::jsonb[]),
  (21, 'objects: fields in one version only', ARRAY['{"x": ["b", "a", "b"]}', '{"y": 1}', '{"z": {"k": 2}}']::jsonb[]),
  (22, 'objects: nested objects equal', ARRAY['{"o": {"k": [1, 2]}, "n": null}', '{"o": {"k": [1, 2]}, "n": null}']::jsonb[]),
  (23, 'objects: nested objects differ', ARRAY['{"o": {"k": [1, 2]}}', '{"o": {"k": [2, 1]}}']::jsonb[]),
  (24, 'empty objects', ARRAY['{}', '{}']::jsonb[]),
  (25, 'one object', ARRAY['{"items": ["b", "a", "a"], "n": 3}']::jsonb[]),
  (26, 'strings in the collation''s order', ARRAY['["B", "a", "b", "A"]', '["ab", "aB", "", " "]']::jsonb[]),
  (27, 'duplicates across versions', ARRAY['["a", "a"]', '["a"]', '["a", "b"]']::jsonb[]),
  (28, 'an object and a scalar', ARRAY['{"a": 1}', '"a"']::jsonb[]),
  (29, 'objects: an array field and an absent one', ARRAY['{"a": [2, 1]}', '{}', '{"a": [3]}']::jsonb[]),
  (30, 'objects: empty arrays and nulls', ARRAY['{"a": [], "b": null}', '{"a": [], "b": null}']::jsonb[]),
  -- many elements that compare equal but are spelt apart: which spelling
  -- survives depends on the sort itself, not only on the order
  (31, '100 numbers, 10 values, many spellings',
   ARRAY[(SELECT jsonb_agg(to_jsonb(round((i % 10)::numeric, i % 4))) FROM generate_series(1, 60) i),
         (SELECT jsonb_agg(to_jsonb(round((i % 7)::numeric, (i * 3) % 5))) FROM generate_series(1, 40) i)]),
  (32, '3 versions, numbers and strings',
   ARRAY[(SELECT jsonb_agg(CASE WHEN i % 3 = 0 THEN to_jsonb(i % 17) ELSE to_jsonb((i % 11)::text) END) FROM generate_series(1, 90) i),
         (SELECT jsonb_agg(to_jsonb(round((i % 17)::numeric, i % 3))) FROM generate_series(1, 70) i),
         (SELECT jsonb_agg(jsonb_build_array(i % 4, round((i % 2)::numeric, i % 2))) FROM generate_series(1, 30) i)]),
  (33, 'objects: big array fields',
   ARRAY[jsonb_build_object('items', (SELECT jsonb_agg(round((i % 9)::numeric, i % 3)) FROM generate_series(1, 50) i), 'n', 1.0),
         jsonb_build_object('items', (SELECT jsonb_agg(round((i % 5)::numeric, i % 2)) FROM generate_series(1, 30) i), 'n', 1)]);

CREATE TABLE merged_0_1 AS
  SELECT id, dynamo_merge_union(vals, NULL)::text AS result,
         dynamo_merge_union(vals, array_fill('{}'::jsonb, ARRAY[coalesce(cardinality(vals), 0)]))::text
           AS with_clocks
    FROM merge_cases;

ALTER EXTENSION dynamo_fdw UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'dynamo_fdw';
SELECT l.lanname, p.provolatile, p.proisstrict
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.proname = 'dynamo_merge_union';

-- every case as 0.2 merges it: the small ones in full (but 26, whose order
-- is the database's collation), the big ones by a digest
SELECT id, what, dynamo_merge_union(vals, NULL) AS merged
  FROM merge_cases WHERE id <= 30 AND id <> 26 ORDER BY id;
SELECT id, what, CASE WHEN id > 30 THEN md5(dynamo_merge_union(vals, NULL)::text) END AS merged_md5,
       jsonb_array_length(coalesce(dynamo_merge_union(vals, NULL) -> 'items',
                                   dynamo_merge_union(vals, NULL))) AS elements
  FROM merge_cases WHERE id > 30 OR id = 26 ORDER BY id;
-- ... and every case the same as 0.1's, with clocks and without (no rows)
SELECT c.id, o.result AS plpgsql, dynamo_merge_union(c.vals, NULL)::text AS c_function
  FROM merge_cases c JOIN merged_0_1 o USING (id)
 WHERE o.result IS DISTINCT FROM dynamo_merge_union(c.vals, NULL)::text
    OR o.with_clocks IS DISTINCT FROM
       dynamo_merge_union(c.vals, array_fill('{}'::jsonb, ARRAY[coalesce(cardinality(c.vals), 0)]))::text;
SELECT count(*) AS cases_compared FROM merge_cases c JOIN merged_0_1 o USING (id);

-- a table still takes it as its merge_function (IMMUTABLE, right signature)
CREATE SERVER upd FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes '127.0.0.1:1');
CREATE FOREIGN TABLE upd_carts (key text, value jsonb) SERVER upd
  OPTIONS (merge_function 'dynamo_merge_union');
DROP SERVER upd CASCADE;
DROP TABLE merge_cases, merged_0_1;
DROP EXTENSION dynamo_fdw;

-- a fresh CREATE EXTENSION is 0.2: 0.1's script, then the update
CREATE EXTENSION dynamo_fdw;
SELECT extversion FROM pg_extension WHERE extname = 'dynamo_fdw';
SELECT l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.proname = 'dynamo_merge_union';
SELECT dynamo_merge_union(ARRAY['{"items": ["apple"]}', '{"items": ["pear", "apple"]}']::jsonb[], NULL);
DROP EXTENSION dynamo_fdw;
