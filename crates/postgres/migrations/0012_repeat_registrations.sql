-- The repeats alone among a round's registrations (seq > 0: re-tests and double scans). The
-- abnormal pools' members, counts and home-sampling list read it once to learn who has a second
-- registration at all, instead of probing `registrations_round_person_key` for each of their
-- 50,000 members (half of the list's buffer reads); the hot path writes it only for a repeat.
-- Mirrors crates/sqlite/migrations/0013_repeat_registrations.sql.
CREATE INDEX registrations_repeats ON registrations(round_id, person_id) WHERE seq > 0;
