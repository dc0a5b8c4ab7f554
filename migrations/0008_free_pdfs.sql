-- An issue's PDF can be made free for everyone by staff (a special supplement): 1, or 0 for
-- digital subscribers only.
ALTER TABLE issues ADD COLUMN pdf_free BIGINT NOT NULL DEFAULT 0;
