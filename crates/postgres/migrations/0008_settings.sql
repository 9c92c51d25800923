-- Small named values kept between starts (the demo's replay clock anchor, JSON).
CREATE TABLE settings (
    key        text PRIMARY KEY,
    value      text NOT NULL,
    updated_at bigint NOT NULL
);
