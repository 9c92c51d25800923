-- The audit log's index of entries by person, kept behind the log instead of inside every append
-- (as crates/sqlite/migrations/0014_audit_people.sql). A list of 50,000 people added 50,000 keys
-- at random places in `audit_entries_person` before it could be shown; the entries are still
-- appended and committed first, and their person keys are now added afterwards by `index_audit`,
-- in key order, into `audit_people`. Entry numbers are taken before commit, so they do not say
-- which entries are indexed (a transaction may commit an older number after a newer one): every
-- new request is queued in `audit_pending` by a trigger, whatever statement writes it, and the
-- indexer moves a request from the queue to the index in one transaction. A person's history
-- reads the index and the queued requests' entries: complete before and after.
CREATE TABLE audit_people (
    person_id bigint NOT NULL,
    seq       bigint NOT NULL,
    PRIMARY KEY (person_id, seq)
);
INSERT INTO audit_people (person_id, seq)
    SELECT person_id, seq FROM audit_entries WHERE person_id IS NOT NULL ORDER BY person_id, seq;
DROP INDEX audit_entries_person;

-- The queue, and the entries of a request found by it (ids grow: appends at the index's end).
CREATE TABLE audit_pending (request bigint NOT NULL);
CREATE INDEX audit_entries_request ON audit_entries(request);

CREATE FUNCTION audit_pending_queue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_pending (request) SELECT id FROM new_requests;
    RETURN NULL;
END $$;
CREATE TRIGGER audit_requests_queued AFTER INSERT ON audit_requests
    REFERENCING NEW TABLE AS new_requests FOR EACH STATEMENT EXECUTE FUNCTION audit_pending_queue();

-- Derived, but it only grows, as the log does.
CREATE TRIGGER audit_people_no_update BEFORE UPDATE ON audit_people
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_people_no_delete BEFORE DELETE ON audit_people
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_people_no_truncate BEFORE TRUNCATE ON audit_people
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
