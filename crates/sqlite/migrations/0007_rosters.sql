-- Workforce posts and rosters (定人定岗定责): posts at sampling sites and checkpoints, their
-- shifts (at most 24 hours), and the assignments of people to shifts with check-in and check-out.
--
-- `area_path` is the post's scope. An assignment repeats its shift's post and times so that a
-- person's overlapping assignments are one index range scan (`assignments_person`), and the
-- dashboard's summary reads only the shifts near now (`shifts_starts`).

CREATE TABLE posts (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('sampling_site','checkpoint','headquarters','forward_post','other')),
    duties     TEXT NOT NULL,
    area_id    INTEGER NOT NULL REFERENCES areas(id),
    area_path  TEXT NOT NULL,
    site_id    INTEGER REFERENCES sites(id),
    needed     INTEGER NOT NULL CHECK (needed > 0),
    created_at INTEGER NOT NULL
);
CREATE INDEX posts_area_path ON posts(area_path);

CREATE TABLE shifts (
    id      INTEGER PRIMARY KEY,
    post_id INTEGER NOT NULL REFERENCES posts(id),
    starts  INTEGER NOT NULL,
    ends    INTEGER NOT NULL,
    CHECK (ends > starts AND ends - starts <= 86400000),
    UNIQUE (post_id, starts, ends)
);
CREATE INDEX shifts_starts ON shifts(starts);

CREATE TABLE assignments (
    id             INTEGER PRIMARY KEY,
    shift_id       INTEGER NOT NULL REFERENCES shifts(id),
    post_id        INTEGER NOT NULL REFERENCES posts(id),
    person_id      INTEGER NOT NULL REFERENCES persons(id),
    starts         INTEGER NOT NULL,
    ends           INTEGER NOT NULL,
    responsibility TEXT NOT NULL,
    assigned_at    INTEGER NOT NULL,
    assigned_by    INTEGER NOT NULL,
    checked_in_at  INTEGER,
    checked_out_at INTEGER
);
CREATE INDEX assignments_shift ON assignments(shift_id, id);
CREATE INDEX assignments_person ON assignments(person_id, starts);
