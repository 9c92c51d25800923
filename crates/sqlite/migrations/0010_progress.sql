-- The round's progress kept with the writes instead of summed when read: at city scale (10 M
-- registrations, 1 M tubes) summing the lane-minute rows by hour and by site and counting tubes
-- took 1.7–2.5 s. Written by the writer's per-transaction sums (deferred.rs) with lane_minutes,
-- so a commit of many scans writes each row once.

-- Tubes of a round by state (open, sealed, resulted).
CREATE TABLE round_tubes (
    round_id INTEGER NOT NULL,
    state    TEXT NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (round_id, state)
) WITHOUT ROWID;

-- Registrations of a round per hour (start of the hour, ms) and per site.
CREATE TABLE round_hours (
    round_id INTEGER NOT NULL,
    hour     INTEGER NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (round_id, hour)
) WITHOUT ROWID;
CREATE TABLE round_sites (
    round_id INTEGER NOT NULL,
    site_id  INTEGER NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (round_id, site_id)
) WITHOUT ROWID;

-- Existing rounds.
INSERT INTO round_tubes (round_id, state, n) SELECT round_id, state, count(*) FROM tubes GROUP BY round_id, state;
INSERT INTO round_hours (round_id, hour, n)
    SELECT round_id, (minute / 60) * 3600000, sum(n) FROM lane_minutes GROUP BY 1, 2 HAVING sum(n) <> 0;
INSERT INTO round_sites (round_id, site_id, n)
    SELECT round_id, site_id, sum(n) FROM lane_minutes GROUP BY 1, 2 HAVING sum(n) <> 0;
