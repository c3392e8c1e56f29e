-- The other fields of the pilot list form (附件1-2 电梯按需维保试点清单):
-- contacts of the owner and the firm, manufacturer, insurer and cover period.
ALTER TABLE projects ADD COLUMN pilot_form jsonb NOT NULL DEFAULT '{}';
