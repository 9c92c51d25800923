-- The audit log's index of entries by person, kept behind the log instead of inside every append.
-- A list of 50,000 people appended 50,000 rows at the end of `audit_entries` (cheap) and 50,000
-- keys at random places in `audit_entries_person` (most of the cost: as many leaf pages dirtied,
-- written to the log and synced before the list could be shown). The entries are still appended
-- and committed before anyone sees the list; their person keys are now added afterwards by
-- `index_audit`, in key order, into `audit_people`, and `audit_people_through` holds the last
-- entry indexed. A person's history reads the index up to that entry and the entries after it
-- (a short range of the log's primary key), so it is complete before and after. The single
-- writer gives entries their numbers in commit order, so "indexed through N" has no gaps.
CREATE TABLE audit_people (
    person_id INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (person_id, seq)
) WITHOUT ROWID;

CREATE TABLE audit_people_through (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL
);

INSERT INTO audit_people (person_id, seq)
    SELECT person_id, seq FROM audit_entries WHERE person_id IS NOT NULL ORDER BY person_id, seq;
INSERT INTO audit_people_through (id, seq) SELECT 1, coalesce(max(seq), 0) FROM audit_entries;
DROP INDEX audit_entries_person;

-- Derived, but it only grows, as the log does; the mark only moves forward.
CREATE TRIGGER audit_people_no_update BEFORE UPDATE ON audit_people
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_people_no_delete BEFORE DELETE ON audit_people
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_people_through_forward BEFORE UPDATE ON audit_people_through
WHEN NEW.seq < OLD.seq OR NEW.id IS NOT OLD.id
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_people_through_no_delete BEFORE DELETE ON audit_people_through
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
