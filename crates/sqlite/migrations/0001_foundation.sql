-- Foundation: the area tree, the resident register, staff, accounts, sessions and the audit log.
-- Times are milliseconds since the Unix epoch (UTC); dates are ISO 8601 text.

CREATE TABLE areas (
    id        INTEGER PRIMARY KEY,
    code      TEXT NOT NULL UNIQUE,
    name      TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('county','town','community','village','grid','household')),
    parent_id INTEGER REFERENCES areas(id),
    -- Materialised path of ids, '/1/4/17/': subtree = path range scan.
    path      TEXT NOT NULL UNIQUE
);
CREATE INDEX areas_parent ON areas(parent_id, code);

CREATE TABLE persons (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    doc_type    TEXT NOT NULL,
    doc_number  TEXT,
    sex         TEXT CHECK (sex IN ('male','female')),
    birth_date  TEXT,
    phone       TEXT,
    address     TEXT,
    area_id     INTEGER NOT NULL REFERENCES areas(id),
    grid_id     INTEGER REFERENCES areas(id),
    area_path   TEXT NOT NULL,
    cannot_walk INTEGER NOT NULL DEFAULT 0,
    bedridden   INTEGER NOT NULL DEFAULT 0,
    other_needs TEXT,
    synthetic   INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX persons_document ON persons(doc_type, doc_number) WHERE doc_number IS NOT NULL;
CREATE INDEX persons_area_path ON persons(area_path, id);
CREATE INDEX persons_name ON persons(name);

CREATE TABLE staff (
    person_id INTEGER NOT NULL REFERENCES persons(id),
    team      TEXT NOT NULL,
    area_id   INTEGER NOT NULL REFERENCES areas(id),
    area_path TEXT NOT NULL,
    PRIMARY KEY (person_id, team, area_id)
);
CREATE INDEX staff_area_path ON staff(area_path);

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    scope_area_id INTEGER NOT NULL REFERENCES areas(id),
    password_hash TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts(id),
    kind         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX sessions_account ON sessions(account_id);

CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    account_id INTEGER,
    username   TEXT NOT NULL,
    role       TEXT,
    operation  TEXT NOT NULL,
    person_id  INTEGER,
    outcome    TEXT NOT NULL,
    detail     TEXT,
    request_id TEXT NOT NULL
);
CREATE INDEX audit_person ON audit_log(person_id, seq) WHERE person_id IS NOT NULL;
CREATE INDEX audit_account ON audit_log(account_id, seq);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
