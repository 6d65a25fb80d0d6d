-- The generated user number g, as the columns scimd writes for a user. Used LATERAL over a
-- row that has g: generate_series in the bulk loads (benches/directory.rs,
-- benches/load/loadbench.py), one number in directory.rs's probe, which creates that user
-- through the API and checks it reads back exactly as this generator writes it.
SELECT x.un AS user_name,
       'ext-' || g AS external_id,
       jsonb_build_object(
           'userName', x.un,
           'name', jsonb_build_object('givenName', 'Given' || g, 'familyName', 'Family' || g),
           'displayName', 'Given' || g || ' Family' || g,
           'emails', jsonb_build_array(
               jsonb_build_object('value', x.work, 'type', 'work', 'primary', true),
               jsonb_build_object('value', 'home' || g || '@home.example.net', 'type', 'home')),
           'active', true) AS data,
       timestamptz '2026-01-01 00:00:00+00' + make_interval(secs => g) AS ts
FROM (SELECT left(md5(g::text), 8) || '.' || g || '@corp.example.com' AS un,
             'w' || left(md5('w' || g::text), 6) || '.' || g || '@work.example.com' AS work) x
