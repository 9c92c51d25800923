-- Transport to the lab: boxes (转运箱), the tubes packed into them, and their hand-overs
-- (site → courier → lab), each step timestamped.
--
-- A box keeps its summary (state, flags, tubes, earliest sampling time, the times of its steps)
-- beside its rows, changed in the same transaction: lists and the overdue list read one row per
-- box. `area_path` is the path of the site's area when the box was opened: its scope.

CREATE TABLE boxes (
    id              INTEGER PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    round_id        INTEGER NOT NULL REFERENCES rounds(id),
    site_id         INTEGER NOT NULL REFERENCES sites(id),
    area_path       TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('packing','sealed','in_transit','received')),
    flags           INTEGER NOT NULL DEFAULT 0,
    tubes           INTEGER NOT NULL DEFAULT 0,
    first_sample_at INTEGER,
    created_at      INTEGER NOT NULL,
    created_by      INTEGER NOT NULL,
    sealed_at       INTEGER,
    dispatched_at   INTEGER,
    received_at     INTEGER
);
CREATE INDEX boxes_round ON boxes(round_id, area_path);
-- The overdue list: boxes not yet at the lab, by their oldest sample.
CREATE INDEX boxes_waiting ON boxes(first_sample_at) WHERE state <> 'received';

-- A tube is in one box at most.
CREATE TABLE box_tubes (
    id         INTEGER PRIMARY KEY,
    box_id     INTEGER NOT NULL REFERENCES boxes(id),
    tube_id    INTEGER NOT NULL UNIQUE REFERENCES tubes(id),
    packed_at  INTEGER NOT NULL,
    account_id INTEGER NOT NULL,
    flags      INTEGER NOT NULL
);
CREATE INDEX box_tubes_box ON box_tubes(box_id, id);

-- Who gave the box, who took it (and their phone), when, and which account recorded it.
CREATE TABLE handovers (
    id         INTEGER PRIMARY KEY,
    box_id     INTEGER NOT NULL REFERENCES boxes(id),
    stage      TEXT NOT NULL CHECK (stage IN ('courier','lab')),
    from_name  TEXT,
    to_name    TEXT NOT NULL,
    to_phone   TEXT,
    at         INTEGER NOT NULL,
    account_id INTEGER NOT NULL,
    flags      INTEGER NOT NULL
);
CREATE INDEX handovers_box ON handovers(box_id, id);
