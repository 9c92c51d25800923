-- Each lab's file layout: which header holds the tube code, the result, the Ct values, the times.
CREATE TABLE lab_mappings (
    lab        TEXT PRIMARY KEY,
    mapping    TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
