-- The tube's state checked by comparisons instead of `IN`. SQLite checks `x IN (three or more
-- constants)` by building a temporary B-tree of the constants each time it evaluates it: for the
-- tube row that every single registration updates, that was about 29,000 instructions of the
-- job's 96,000 (callgrind, BENCHMARKS.md). A CHECK cannot be altered in SQLite, so the table is
-- rebuilt as https://sqlite.org/lang_altertable.html#otheralter describes (the migration runner
-- turns foreign keys off for it and checks those of tubes, pool_cases and box_tubes before it
-- commits: `REBUILDS` in migrations.rs). Ids and every column are kept.
CREATE TABLE tubes_new (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    round_id    INTEGER NOT NULL REFERENCES rounds(id),
    site_id     INTEGER NOT NULL REFERENCES sites(id),
    lane_id     INTEGER,
    pool_size   INTEGER NOT NULL,
    state       TEXT NOT NULL CHECK (state = 'open' OR state = 'sealed' OR state = 'resulted'),
    members     INTEGER NOT NULL,
    opened_at   INTEGER NOT NULL,
    sealed_at   INTEGER,
    outcome     TEXT,
    ct_orf1ab   REAL,
    ct_n        REAL,
    resulted_at INTEGER
);
INSERT INTO tubes_new (id, code, round_id, site_id, lane_id, pool_size, state, members, opened_at, sealed_at,
                       outcome, ct_orf1ab, ct_n, resulted_at)
    SELECT id, code, round_id, site_id, lane_id, pool_size, state, members, opened_at, sealed_at,
           outcome, ct_orf1ab, ct_n, resulted_at
    FROM tubes;
DROP TABLE tubes;
ALTER TABLE tubes_new RENAME TO tubes;
CREATE INDEX tubes_round_outcome ON tubes(round_id, outcome) WHERE outcome IN ('abnormal','positive');
CREATE INDEX tubes_abnormal_pools ON tubes(
    round_id, resulted_at, id, code, site_id, lane_id, pool_size, state, members, opened_at, sealed_at, outcome
) WHERE outcome IN ('abnormal','positive') AND pool_size > 1;
