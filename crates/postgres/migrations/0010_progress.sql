-- The round's progress kept with the writes instead of summed when read: at city scale (10 M
-- registrations, 1 M tubes) summing the lane-minute rows by hour and by site and counting tubes
-- took 1.7–2.5 s. Mirrors crates/sqlite/migrations/0010_progress.sql; sharded like round_counts
-- (each writing transaction adds to the shard it was given, readers sum), so that registrations
-- do not queue on one row per round.

-- Tubes of a round by state.
CREATE TABLE round_tubes (
    round_id bigint NOT NULL,
    state    text NOT NULL CHECK (state IN ('open','sealed','resulted')),
    shard    smallint NOT NULL,
    n        bigint NOT NULL,
    PRIMARY KEY (round_id, state, shard)
);

-- Registrations of a round per hour (start of the hour, ms) and per site.
CREATE TABLE round_hours (
    round_id bigint NOT NULL,
    hour     bigint NOT NULL,
    shard    smallint NOT NULL,
    n        bigint NOT NULL,
    PRIMARY KEY (round_id, hour, shard)
);
CREATE TABLE round_sites (
    round_id bigint NOT NULL,
    site_id  bigint NOT NULL,
    shard    smallint NOT NULL,
    n        bigint NOT NULL,
    PRIMARY KEY (round_id, site_id, shard)
);

-- Existing rounds, in shard 0.
INSERT INTO round_tubes (round_id, state, shard, n) SELECT round_id, state, 0, count(*) FROM tubes GROUP BY 1, 2;
INSERT INTO round_hours (round_id, hour, shard, n)
    SELECT round_id, (minute / 60) * 3600000, 0, sum(n) FROM lane_minutes GROUP BY 1, 2 HAVING sum(n) <> 0;
INSERT INTO round_sites (round_id, site_id, shard, n)
    SELECT round_id, site_id, 0, sum(n) FROM lane_minutes GROUP BY 1, 2 HAVING sum(n) <> 0;
