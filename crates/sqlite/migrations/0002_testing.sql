-- Mass testing: rounds, sites and lanes, tubes, registrations, lab results, door-knocks, and the
-- counters that make progress and coverage cheap to read.
--
-- The hot table is `registrations`: its row ids grow in arrival order and its idempotency keys
-- are time-ordered (UUIDv7), so inserts append. Its one random-key index, (round_id, person_id),
-- answers "is this person already in the round" and the door-knock list.

CREATE TABLE rounds (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    pool_size  INTEGER NOT NULL,
    starts_at  INTEGER NOT NULL,
    ends_at    INTEGER,
    created_at INTEGER NOT NULL
);
CREATE TABLE round_areas (
    round_id INTEGER NOT NULL REFERENCES rounds(id),
    area_id  INTEGER NOT NULL REFERENCES areas(id),
    position INTEGER NOT NULL,
    PRIMARY KEY (round_id, area_id)
) WITHOUT ROWID;
CREATE TABLE round_pools (
    round_id  INTEGER NOT NULL REFERENCES rounds(id),
    area_id   INTEGER NOT NULL REFERENCES areas(id),
    pool_size INTEGER NOT NULL,
    PRIMARY KEY (round_id, area_id)
) WITHOUT ROWID;

CREATE TABLE sites (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL,
    area_id          INTEGER NOT NULL REFERENCES areas(id),
    area_path        TEXT NOT NULL,
    opens            INTEGER NOT NULL,
    closes           INTEGER NOT NULL,
    queue_length     INTEGER NOT NULL DEFAULT 0,
    queue_counted_at INTEGER,
    created_at       INTEGER NOT NULL
);
CREATE INDEX sites_area_path ON sites(area_path);
CREATE TABLE site_areas (
    site_id  INTEGER NOT NULL REFERENCES sites(id),
    area_id  INTEGER NOT NULL REFERENCES areas(id),
    position INTEGER NOT NULL,
    PRIMARY KEY (site_id, area_id)
) WITHOUT ROWID;
CREATE TABLE lanes (
    id      INTEGER PRIMARY KEY,
    site_id INTEGER NOT NULL REFERENCES sites(id),
    name    TEXT NOT NULL,
    kind    TEXT NOT NULL CHECK (kind IN ('normal','green_channel'))
);
CREATE INDEX lanes_site ON lanes(site_id, id);

CREATE TABLE tubes (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    round_id    INTEGER NOT NULL REFERENCES rounds(id),
    site_id     INTEGER NOT NULL REFERENCES sites(id),
    lane_id     INTEGER,
    pool_size   INTEGER NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('open','sealed','resulted')),
    members     INTEGER NOT NULL,
    opened_at   INTEGER NOT NULL,
    sealed_at   INTEGER,
    outcome     TEXT,
    ct_orf1ab   REAL,
    ct_n        REAL,
    resulted_at INTEGER
);
CREATE INDEX tubes_round_outcome ON tubes(round_id, outcome) WHERE outcome IN ('abnormal','positive');

CREATE TABLE registrations (
    id           INTEGER PRIMARY KEY,
    idem_key     TEXT NOT NULL UNIQUE,
    body_hash    INTEGER NOT NULL,
    round_id     INTEGER NOT NULL,
    site_id      INTEGER NOT NULL,
    lane_id      INTEGER,
    tube_id      INTEGER NOT NULL,
    person_id    INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    device_time  INTEGER,
    account_id   INTEGER NOT NULL,
    home         INTEGER NOT NULL,
    flags        INTEGER NOT NULL,
    -- The tube as this registration left it: a replay answers exactly what the first answer said.
    tube_state   TEXT NOT NULL,
    tube_members INTEGER NOT NULL
);
CREATE INDEX registrations_tube ON registrations(tube_id);
CREATE INDEX registrations_round_person ON registrations(round_id, person_id);

-- Residents per area (every area on a person's path), kept by triggers on persons.
CREATE TABLE area_residents (
    area_id   INTEGER PRIMARY KEY,
    residents INTEGER NOT NULL
);
INSERT INTO area_residents (area_id, residents)
    SELECT CAST(j.value AS INTEGER), count(*)
    FROM persons, json_each('[' || replace(trim(persons.area_path, '/'), '/', ',') || ']') AS j
    GROUP BY CAST(j.value AS INTEGER);
CREATE TRIGGER persons_count_insert AFTER INSERT ON persons BEGIN
    INSERT INTO area_residents (area_id, residents)
        SELECT CAST(value AS INTEGER), 1 FROM json_each('[' || replace(trim(NEW.area_path, '/'), '/', ',') || ']') WHERE true
        ON CONFLICT (area_id) DO UPDATE SET residents = residents + 1;
END;
CREATE TRIGGER persons_count_delete AFTER DELETE ON persons BEGIN
    UPDATE area_residents SET residents = residents - 1
        WHERE area_id IN (SELECT CAST(value AS INTEGER) FROM json_each('[' || replace(trim(OLD.area_path, '/'), '/', ',') || ']'));
END;
CREATE TRIGGER persons_count_move AFTER UPDATE OF area_path ON persons WHEN OLD.area_path <> NEW.area_path BEGIN
    UPDATE area_residents SET residents = residents - 1
        WHERE area_id IN (SELECT CAST(value AS INTEGER) FROM json_each('[' || replace(trim(OLD.area_path, '/'), '/', ',') || ']'));
    INSERT INTO area_residents (area_id, residents)
        SELECT CAST(value AS INTEGER), 1 FROM json_each('[' || replace(trim(NEW.area_path, '/'), '/', ',') || ']') WHERE true
        ON CONFLICT (area_id) DO UPDATE SET residents = residents + 1;
END;

-- People sampled (first registration in the round) and excluded (door-knock: away, sampled
-- elsewhere) per round and area; area 0 is the whole round.
CREATE TABLE round_counts (
    round_id INTEGER NOT NULL,
    area_id  INTEGER NOT NULL,
    sampled  INTEGER NOT NULL DEFAULT 0,
    excluded INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (round_id, area_id)
) WITHOUT ROWID;

-- Registrations per lane and minute: lane throughput, site waits, the hourly chart.
CREATE TABLE lane_minutes (
    round_id INTEGER NOT NULL,
    site_id  INTEGER NOT NULL,
    lane_id  INTEGER NOT NULL,
    minute   INTEGER NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (round_id, site_id, lane_id, minute)
) WITHOUT ROWID;

CREATE TABLE door_knocks (
    id         INTEGER PRIMARY KEY,
    round_id   INTEGER NOT NULL REFERENCES rounds(id),
    person_id  INTEGER NOT NULL REFERENCES persons(id),
    outcome    TEXT NOT NULL,
    note       TEXT,
    at         INTEGER NOT NULL,
    account_id INTEGER NOT NULL
);
CREATE INDEX door_knocks_person ON door_knocks(round_id, person_id, id);

-- Every result exactly as it arrived; `review` says why a person must look at it.
CREATE TABLE lab_results (
    id          INTEGER PRIMARY KEY,
    tube_code   TEXT NOT NULL,
    tube_id     INTEGER,
    outcome     TEXT NOT NULL,
    ct_orf1ab   REAL,
    ct_n        REAL,
    sampled_at  INTEGER,
    tested_at   INTEGER,
    reported_at INTEGER,
    lab         TEXT,
    received_at INTEGER NOT NULL,
    account_id  INTEGER NOT NULL,
    review      TEXT
);
CREATE INDEX lab_results_review ON lab_results(id) WHERE review IS NOT NULL;

CREATE TABLE pool_cases (
    tube_id   INTEGER PRIMARY KEY REFERENCES tubes(id),
    round_id  INTEGER NOT NULL,
    opened_at INTEGER NOT NULL
);

ALTER TABLE persons ADD COLUMN qr_token TEXT;
CREATE UNIQUE INDEX persons_qr_token ON persons(qr_token) WHERE qr_token IS NOT NULL;
