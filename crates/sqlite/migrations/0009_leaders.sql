-- Area leaders (包村领导): the town leader in charge of a village (or community, or the town),
-- shown on the dashboard and sent the alerts of that area. One row per area; a person may lead
-- several areas. Leaders are listed by joining the area (its path is the scope).
CREATE TABLE area_leaders (
    area_id   INTEGER PRIMARY KEY REFERENCES areas(id),
    person_id INTEGER NOT NULL REFERENCES persons(id),
    title     TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 50),
    set_at    INTEGER NOT NULL,
    set_by    INTEGER NOT NULL
);
CREATE INDEX area_leaders_person ON area_leaders(person_id);
