-- A list read's audit entries in one row until they are written out one per person. Appending
-- the 50,000 entries of the abnormal pools' list as rows cost PostgreSQL ~125 ms (heap and two
-- indexes, 2.5 µs a row), as long as reading the list itself. A list now appends its request and
-- one row here holding its people and their entry numbers (`seqs`, taken from the entries'
-- sequence in the list's order when it is appended, so every entry has its number for good);
-- `index_audit` moves each waiting row into `audit_entries`, deleting it in the same
-- transaction, behind the reader's request. An entry is therefore always in exactly one of the
-- two tables, and the view `audit_log` reads both, so a person's history and the whole log are
-- complete before and after. Mirrors, in purpose, SQLite's person index kept behind the log
-- (crates/sqlite/migrations/0014_audit_people.sql).
CREATE TABLE audit_entries_waiting (
    request bigint PRIMARY KEY,
    n       integer NOT NULL,
    seqs    bigint[] NOT NULL,
    people  bigint[] NOT NULL,
    CHECK (cardinality(seqs) = n AND cardinality(people) = n)
);
-- Stored as they are: the numbers do not compress, and compressing 800 kB per list costs more
-- than it saves.
ALTER TABLE audit_entries_waiting ALTER COLUMN seqs SET STORAGE EXTERNAL;
ALTER TABLE audit_entries_waiting ALTER COLUMN people SET STORAGE EXTERNAL;

-- A waiting row is written once and leaves only for `audit_entries`: the DELETE that moves it is
-- refused unless its entries are there by the end of the statement (the move is one statement).
CREATE FUNCTION audit_entries_waiting_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM audit_entries WHERE seq = OLD.seqs[1])
       OR NOT EXISTS (SELECT 1 FROM audit_entries WHERE seq = OLD.seqs[OLD.n]) THEN
        RAISE EXCEPTION 'audit_log is append-only: waiting entries leave only for audit_entries'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER audit_entries_waiting_moved AFTER DELETE ON audit_entries_waiting
    FOR EACH ROW EXECUTE FUNCTION audit_entries_waiting_moved();
CREATE TRIGGER audit_entries_waiting_no_update BEFORE UPDATE ON audit_entries_waiting
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_entries_waiting_no_truncate BEFORE TRUNCATE ON audit_entries_waiting
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Both tables, for reading by hand. Sorted as a whole, the union is planned as a sort of the whole
-- log: the store reads each table newest first up to its limit and merges (src/audit.rs).
CREATE OR REPLACE VIEW audit_log AS
    SELECT e.seq, r.at, r.account_id, r.username, r.role, r.operation, e.person_id, r.outcome, r.detail, r.request_id
    FROM audit_entries e JOIN audit_requests r ON r.id = e.request
    UNION ALL
    SELECT u.seq, r.at, r.account_id, r.username, r.role, r.operation, u.person_id, r.outcome, r.detail, r.request_id
    FROM audit_entries_waiting w JOIN audit_requests r ON r.id = w.request,
         UNNEST(w.seqs, w.people) AS u(seq, person_id);
