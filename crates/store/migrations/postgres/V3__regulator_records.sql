-- What regulators record (A1 §III, §IV; N §III.(三)): complaints, inspections
-- and spot checks, accidents, rectification orders, firms' yearly grades.
-- Every row keeps who recorded it (`regulator`) and when.

-- Complaints (投诉) about a project's elevators.
CREATE TABLE complaints (
    id                         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id                 text NOT NULL REFERENCES projects (id),
    elevator_id                integer REFERENCES elevators (id),
    received_on                date NOT NULL,
    -- What the complaint is about: A1 §III.3 counts verified complaints about safety or quality.
    safety_or_quality          text NOT NULL CHECK (safety_or_quality IN ('safety', 'quality', 'other')),
    verified                   boolean NOT NULL DEFAULT false,
    -- A1 §IV.(一).3: verified complaints caused by maintenance quality.
    maintenance_quality_caused boolean NOT NULL DEFAULT false,
    summary                    text NOT NULL,
    recorded_by                text NOT NULL,
    recorded_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX complaints_project ON complaints (project_id, received_on);

-- Periodic inspections (定期检验), spot checks (抽查) and supervision visits (监督检查).
CREATE TABLE inspections (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id   text NOT NULL REFERENCES projects (id),
    elevator_id  integer REFERENCES elevators (id),
    kind         text NOT NULL CHECK (kind IN ('periodic_inspection', 'spot_check', 'supervision')),
    on_date      date NOT NULL,
    hazard_found boolean NOT NULL DEFAULT false,
    passed       boolean NOT NULL,
    summary      text NOT NULL DEFAULT '',
    recorded_by  text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inspections_project ON inspections (project_id, on_date);

-- Safety accidents (安全事故) on an elevator of a project (A1 §IV.(二), A2 §IV).
CREATE TABLE accidents (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id            text NOT NULL REFERENCES projects (id),
    elevator_id           integer NOT NULL REFERENCES elevators (id),
    on_date               date NOT NULL,
    caused_by_maintenance boolean NOT NULL,
    summary               text NOT NULL,
    recorded_by           text NOT NULL,
    recorded_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX accidents_project ON accidents (project_id, on_date);

-- Rectification orders (责令整改) with their deadline (A1 §III) and completion (A1 §IV.(一).1).
CREATE TABLE rectification_orders (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id    text NOT NULL REFERENCES projects (id),
    issued_on     date NOT NULL,
    deadline      date NOT NULL,
    reason        text NOT NULL,
    -- What the order follows from, when known (A1 §IV.(一).2: a failed periodic inspection).
    inspection_id bigint REFERENCES inspections (id),
    finding_id    text REFERENCES findings (id),
    completed_on  date,
    completed_by  text,
    recorded_by   text NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (deadline >= issued_on),
    CHECK (completed_on IS NULL OR completed_on >= issued_on)
);
CREATE INDEX rectification_orders_project ON rectification_orders (project_id, issued_on);
CREATE INDEX rectification_orders_open ON rectification_orders (deadline) WHERE completed_on IS NULL;

-- A firm's yearly classification (分类评级) and whether its self-declaration
-- (自我声明) was published that year (N §III.(三).2). One row per firm and year.
CREATE TABLE firm_grades (
    firm_id       text NOT NULL REFERENCES firms (id),
    year          integer NOT NULL CHECK (year BETWEEN 2000 AND 2200),
    grade         text NOT NULL CHECK (grade IN ('A', 'B', 'C', 'D')),
    self_declared boolean,
    recorded_by   text NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (firm_id, year)
);
