-- Attachment 2 (issue 14), as PostgreSQL's V12: the equipment facts per
-- elevator (the core's EquipmentFacts as JSON, with the columns a query
-- filters on) and the results of inspections and tests.

CREATE TABLE equipment_facts (
    elevator_id      INTEGER PRIMARY KEY REFERENCES elevators (id),
    facts            TEXT NOT NULL,
    supervised_on    TEXT NOT NULL,
    area             TEXT NOT NULL
        CHECK (area IN ('dinghai', 'daishan', 'putuo', 'liuheng', 'putuoshan', 'other')),
    inspection_month INTEGER NOT NULL CHECK (inspection_month BETWEEN 1 AND 12),
    updated_by       TEXT NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX equipment_facts_area ON equipment_facts (area, inspection_month);

CREATE TABLE check_results (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    elevator_id  INTEGER NOT NULL REFERENCES elevators (id),
    kind         TEXT NOT NULL CHECK (kind IN ('inspection', 'test')),
    done_on      TEXT NOT NULL,
    passed       INTEGER NOT NULL,
    uploaded_on  TEXT NOT NULL CHECK (uploaded_on >= done_on),
    body         TEXT NOT NULL DEFAULT '',
    recorded_by  TEXT NOT NULL,
    recorded_at  INTEGER NOT NULL
);
CREATE INDEX check_results_elevator ON check_results (elevator_id, done_on, id);
