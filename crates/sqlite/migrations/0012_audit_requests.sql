-- The audit log in two tables: a request's fields (who, in which role, what, how it ended) once
-- in `audit_requests`, and one narrow row per entry in `audit_entries` naming the person. A list
-- of 50,000 people wrote 50,000 rows of ~100 bytes repeating the same request; it now writes one
-- request and 50,000 rows of a few bytes. Still one entry per request and person, each with its
-- own `seq`. The view `audit_log` reads them as before.
CREATE TABLE audit_requests (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    account_id INTEGER,
    username   TEXT NOT NULL,
    role       TEXT,
    operation  TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    detail     TEXT,
    request_id TEXT NOT NULL
);
CREATE INDEX audit_requests_account ON audit_requests(account_id, id);

CREATE TABLE audit_entries (
    seq       INTEGER PRIMARY KEY,
    request   INTEGER NOT NULL,
    person_id INTEGER
);
CREATE INDEX audit_entries_person ON audit_entries(person_id, seq) WHERE person_id IS NOT NULL;

-- Every entry kept, under its own number: each old entry becomes a request of one.
INSERT INTO audit_requests (id, at, account_id, username, role, operation, outcome, detail, request_id)
    SELECT seq, at, account_id, username, role, operation, outcome, detail, request_id FROM audit_log;
INSERT INTO audit_entries (seq, request, person_id) SELECT seq, seq, person_id FROM audit_log;
DROP TABLE audit_log;

CREATE VIEW audit_log AS
    SELECT e.seq, r.at, r.account_id, r.username, r.role, r.operation, e.person_id, r.outcome, r.detail, r.request_id
    FROM audit_entries e JOIN audit_requests r ON r.id = e.request;

CREATE TRIGGER audit_requests_no_update BEFORE UPDATE ON audit_requests
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_requests_no_delete BEFORE DELETE ON audit_requests
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
