-- Attachment 2 (issue 14): the equipment facts the regulator records per
-- elevator (the core's EquipmentFacts, kept whole as jsonb, with the columns
-- a query filters on beside it), and the results of inspections and tests
-- that inspection bodies record.

CREATE TABLE equipment_facts (
    elevator_id      integer PRIMARY KEY REFERENCES elevators (id),
    facts            jsonb NOT NULL,
    supervised_on    date NOT NULL,
    area             text NOT NULL
        CHECK (area IN ('dinghai', 'daishan', 'putuo', 'liuheng', 'putuoshan', 'other')),
    inspection_month smallint NOT NULL CHECK (inspection_month BETWEEN 1 AND 12),
    updated_by       text NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX equipment_facts_area ON equipment_facts (area, inspection_month);

CREATE TABLE check_results (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    elevator_id  integer NOT NULL REFERENCES elevators (id),
    kind         text NOT NULL CHECK (kind IN ('inspection', 'test')),
    done_on      date NOT NULL,
    passed       boolean NOT NULL,
    uploaded_on  date NOT NULL CHECK (uploaded_on >= done_on),
    body         text NOT NULL DEFAULT '',
    recorded_by  text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX check_results_elevator ON check_results (elevator_id, done_on, id);
