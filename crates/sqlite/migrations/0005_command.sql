-- Command (指挥): plan templates (versioned), incidents with their working groups, the roll-call of
-- every notified member, the tasks with their deadlines, and the incident timeline.
--
-- A plan version is stored as the JSON of `bulwark_domain::command::Plan`; versions are never
-- changed. An incident keeps the area it was opened for and that area's path (`area_path`): its
-- scope, as a path range. A member's roll-call state sits on one row, changed only together with
-- an appended answer in the same transaction; the answers themselves are a log the engine keeps
-- append-only (triggers below).

CREATE TABLE plans (
    id       INTEGER PRIMARY KEY,
    key      TEXT NOT NULL,
    version  INTEGER NOT NULL CHECK (version >= 1),
    json     TEXT NOT NULL,
    saved_at INTEGER NOT NULL,
    saved_by INTEGER NOT NULL,
    UNIQUE (key, version)
);

CREATE TABLE incidents (
    id                INTEGER PRIMARY KEY,
    plan_key          TEXT NOT NULL,
    plan_version      INTEGER NOT NULL,
    title             TEXT NOT NULL,
    trigger_text      TEXT NOT NULL,
    level             INTEGER NOT NULL CHECK (level BETWEEN 1 AND 4),
    area_id           INTEGER NOT NULL REFERENCES areas(id),
    area_path         TEXT NOT NULL,
    headquarters      TEXT NOT NULL,
    forward_post      TEXT NOT NULL,
    activated_at      INTEGER NOT NULL,
    assembly_deadline INTEGER NOT NULL,
    activated_by      INTEGER NOT NULL,
    FOREIGN KEY (plan_key, plan_version) REFERENCES plans(key, version)
);
CREATE INDEX incidents_area_path ON incidents(area_path, activated_at);

CREATE TABLE incident_groups (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    position    INTEGER NOT NULL,
    key         TEXT NOT NULL,
    name        TEXT NOT NULL,
    name_en     TEXT NOT NULL,
    lead        TEXT NOT NULL,
    lead_person INTEGER,
    UNIQUE (incident_id, position)
);

-- One row per notified person: the furthest answer so far, the first answer's and the first
-- arrival's time. The one-tap link carries a token whose SHA-256 (hex) is `token_hash`.
CREATE TABLE rollcall_members (
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    person_id   INTEGER NOT NULL REFERENCES persons(id),
    group_id    INTEGER NOT NULL REFERENCES incident_groups(id),
    token_hash  TEXT NOT NULL UNIQUE,
    status      TEXT CHECK (status IN ('received','on_my_way','arrived')),
    place       TEXT,
    answered_at INTEGER,
    arrived_at  INTEGER,
    PRIMARY KEY (incident_id, person_id)
) WITHOUT ROWID;
CREATE INDEX rollcall_members_group ON rollcall_members(group_id);

-- Every answer as it came, also the late ones that did not move the state. No foreign keys: the
-- member row is read in the same transaction, and the log is the hot path of the roll-call.
CREATE TABLE rollcall_answers (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL,
    person_id   INTEGER NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('received','on_my_way','arrived')),
    place       TEXT,
    at          INTEGER NOT NULL,
    account_id  INTEGER
);
CREATE INDEX rollcall_answers_member ON rollcall_answers(incident_id, person_id, id);
CREATE TRIGGER rollcall_answers_no_update BEFORE UPDATE ON rollcall_answers
BEGIN SELECT RAISE(ABORT, 'rollcall_answers is append-only'); END;
CREATE TRIGGER rollcall_answers_no_delete BEFORE DELETE ON rollcall_answers
BEGIN SELECT RAISE(ABORT, 'rollcall_answers is append-only'); END;

CREATE TABLE tasks (
    id                 INTEGER PRIMARY KEY,
    incident_id        INTEGER NOT NULL REFERENCES incidents(id),
    group_id           INTEGER NOT NULL REFERENCES incident_groups(id),
    key                TEXT NOT NULL,
    title              TEXT NOT NULL,
    title_en           TEXT NOT NULL,
    deadline           INTEGER NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('open','in_progress','done','cancelled')),
    owner              INTEGER,
    notes              TEXT NOT NULL DEFAULT '',
    closed_at          INTEGER,
    overdue_alerted_at INTEGER,
    updated_at         INTEGER NOT NULL,
    UNIQUE (incident_id, key)
);
CREATE INDEX tasks_incident ON tasks(incident_id, deadline, id);
-- "Open tasks past their deadline, not yet alerted": only the tasks still waiting for an alert
-- are in this index, so the periodic check reads the few due ones and nothing else.
CREATE INDEX tasks_overdue_pending ON tasks(deadline)
    WHERE overdue_alerted_at IS NULL AND status IN ('open','in_progress');

CREATE TABLE timeline (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    at          INTEGER NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('activated','arrival','assembly','task_done','task_overdue',
                                              'task_changed','figure','manual')),
    text        TEXT NOT NULL,
    account_id  INTEGER
);
CREATE INDEX timeline_incident ON timeline(incident_id, at, id);
