-- The members of each abnormal pool, kept ready from the moment its result comes in: the
-- pool's registrations with the columns the list shows of each person. The abnormal pools' list
-- (and its counts and the home-sampling share) read ten rows per pool that sit together here,
-- instead of a registration and a person probed by key for each of 50,000 members, whose pages
-- are scattered over two large tables (the members' statements for the 5,000 pools of a
-- Shanghai day: 89 → 50 ms of execution, 206,000 → 56,000 buffer accesses, of which the
-- re-test probes, still made live, are 40,000).
--
-- Kept exact by every path that changes what it holds:
-- - a pooled tube's abnormal or positive result copies its registrations here in the statement
--   that opens its case in `pool_cases` (mass_testing/results.rs);
-- - a registration into such a tube after its result is copied in the transaction that stores
--   it (mass_testing/registrations.rs), which holds the tube's lock as the result's does;
-- - a person's name, document, phone, address, grid or place is followed by the trigger below,
--   on every statement that updates persons (today an edit, an area moved, QR codes handed out;
--   whatever updates them later).
-- Persons are never deleted. A re-test is not kept here: the list looks it up live, as before.
CREATE TABLE pool_members (
    tube_id         bigint NOT NULL REFERENCES pool_cases(tube_id),
    registration_id bigint NOT NULL,
    person_id       bigint NOT NULL,
    seq             int NOT NULL,
    at              bigint NOT NULL,
    flags           bigint NOT NULL,
    name            text COLLATE "C" NOT NULL,
    doc_type        text NOT NULL,
    doc_number      text COLLATE "C",
    phone           text,
    address         text,
    grid_id         bigint,
    area_path       text COLLATE "C" NOT NULL,
    PRIMARY KEY (tube_id, registration_id)
);
CREATE INDEX pool_members_person ON pool_members(person_id);

-- The registrations of the tubes `tubes` with their people's columns, as the table holds them.
-- Used by the paths above, so that what each copies is defined once.
CREATE FUNCTION pool_members_of(tubes bigint[]) RETURNS SETOF pool_members LANGUAGE sql STABLE AS $$
    SELECT r.tube_id, r.id, r.person_id, r.seq, r.at, r.flags,
           p.name, p.doc_type, p.doc_number, p.phone, p.address, p.grid_id, p.area_path
    FROM registrations r JOIN persons p ON p.id = r.person_id
    WHERE r.tube_id = ANY(tubes)
$$;

CREATE FUNCTION pool_members_follow_persons() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE pool_members m
    SET name = n.name, doc_type = n.doc_type, doc_number = n.doc_number, phone = n.phone,
        address = n.address, grid_id = n.grid_id, area_path = n.area_path
    FROM changed_people n
    WHERE m.person_id = n.id
      AND (m.name, m.doc_type, m.doc_number, m.phone, m.address, m.grid_id, m.area_path)
          IS DISTINCT FROM (n.name, n.doc_type, n.doc_number, n.phone, n.address, n.grid_id, n.area_path);
    RETURN NULL;
END
$$;
CREATE TRIGGER persons_pool_members AFTER UPDATE ON persons
    REFERENCING NEW TABLE AS changed_people
    FOR EACH STATEMENT EXECUTE FUNCTION pool_members_follow_persons();

INSERT INTO pool_members
SELECT m.* FROM pool_cases c
JOIN tubes t ON t.id = c.tube_id AND t.pool_size > 1,
LATERAL pool_members_of(ARRAY[c.tube_id]) AS m;
