-- Notifications: the outbox with delivery status and retries (in-app, SMS, e-mail), and staff
-- e-mail addresses.
--
-- A row is written `pending` and goes `sending` (claimed under a lease) → `sent`, or
-- `failed_retrying` → … → `failed`. `due_at` is when the row is next due: its next attempt
-- (pending, failed_retrying) or the end of its claim's lease (sending); NULL once final, so the
-- claim is one range scan of `notifications_due`. Rows are never deleted by the application:
-- a notification is never dropped silently. `area_path` is the path of the notification's area:
-- its scope. `incident_id` has no foreign key: incidents come in their own migration.

CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY,
    dedup_key   TEXT NOT NULL UNIQUE,
    person_id   INTEGER REFERENCES persons(id),
    account_id  INTEGER REFERENCES accounts(id),
    channel     TEXT NOT NULL CHECK (channel IN ('in_app','sms','email')),
    address     TEXT NOT NULL,
    incident_id INTEGER,
    area_path   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending','sending','sent','failed_retrying','failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    due_at      INTEGER,
    claim       TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    sent_at     INTEGER,
    read_at     INTEGER,
    CHECK ((person_id IS NULL) <> (account_id IS NULL)),
    CHECK ((due_at IS NULL) = (state IN ('sent','failed')))
);
CREATE INDEX notifications_due ON notifications(due_at, id) WHERE due_at IS NOT NULL;
CREATE INDEX notifications_area ON notifications(area_path, state);
CREATE INDEX notifications_incident ON notifications(incident_id, state) WHERE incident_id IS NOT NULL;
CREATE INDEX notifications_person ON notifications(person_id, id) WHERE person_id IS NOT NULL;
CREATE INDEX notifications_account ON notifications(account_id, id) WHERE account_id IS NOT NULL;

ALTER TABLE staff ADD COLUMN email TEXT;
