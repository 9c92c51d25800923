-- A person's registrations in a round numbered 0, 1, 2, … in arrival order, as PostgreSQL has
-- kept them from the start (`registrations.seq`), and an index of the repeats alone (seq > 0:
-- re-tests and double scans). The abnormal pools' members, counts and home-sampling list read
-- that index once to learn who has a second registration at all, instead of probing the round's
-- registrations for each of their 50,000 members; the hot path writes it only for a repeat.
ALTER TABLE registrations ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE registrations SET seq = (
    SELECT count(*) FROM registrations e
    WHERE e.round_id = registrations.round_id AND e.person_id = registrations.person_id AND e.id < registrations.id
)
WHERE EXISTS (
    SELECT 1 FROM registrations e
    WHERE e.round_id = registrations.round_id AND e.person_id = registrations.person_id AND e.id < registrations.id
);
CREATE INDEX registrations_repeats ON registrations(round_id, person_id) WHERE seq > 0;
