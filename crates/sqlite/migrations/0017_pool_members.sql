-- The members of each abnormal pool, kept ready from the moment its result comes in: the pool's
-- registrations with the columns the list shows of each person, clustered by pool. The abnormal
-- pools' list (and its counts and the home-sampling share) read a pool's rows together here,
-- instead of probing a registration by the tube's index and then her person by key for each of a
-- day's 50,000 members, whose pages are scattered over the two largest tables. PostgreSQL keeps
-- the same table (its migration 0014).
--
-- Kept exact by every path that changes what it holds:
-- - a pooled tube's abnormal or positive result copies its registrations here in the statement
--   after the one that opens its case in `pool_cases` (testing/results.rs);
-- - a registration into such a tube after its result is copied in the job that stores it
--   (testing/registrations.rs); the writer's jobs run one at a time, so neither misses the other;
-- - a person's name, document, phone, address, grid or place is followed by the trigger below.
-- Persons and registrations are never deleted. A re-test is not kept here: the list looks it up
-- live.
CREATE TABLE pool_members (
    tube_id         INTEGER NOT NULL,
    registration_id INTEGER NOT NULL,
    person_id       INTEGER NOT NULL,
    at              INTEGER NOT NULL,
    flags           INTEGER NOT NULL,
    name            TEXT NOT NULL,
    doc_type        TEXT NOT NULL,
    doc_number      TEXT,
    phone           TEXT,
    address         TEXT,
    grid_id         INTEGER,
    area_path       TEXT NOT NULL,
    PRIMARY KEY (tube_id, registration_id)
) WITHOUT ROWID;
CREATE INDEX pool_members_person ON pool_members(person_id);

CREATE TRIGGER persons_pool_members
AFTER UPDATE OF name, doc_type, doc_number, phone, address, grid_id, area_path ON persons
BEGIN
    UPDATE pool_members
    SET name = NEW.name, doc_type = NEW.doc_type, doc_number = NEW.doc_number, phone = NEW.phone,
        address = NEW.address, grid_id = NEW.grid_id, area_path = NEW.area_path
    WHERE person_id = NEW.id;
END;

INSERT INTO pool_members
SELECT r.tube_id, r.id, r.person_id, r.at, r.flags,
       p.name, p.doc_type, p.doc_number, p.phone, p.address, p.grid_id, p.area_path
FROM pool_cases c
JOIN tubes t ON t.id = c.tube_id AND t.pool_size > 1
JOIN registrations r ON r.tube_id = c.tube_id
JOIN persons p ON p.id = r.person_id;
