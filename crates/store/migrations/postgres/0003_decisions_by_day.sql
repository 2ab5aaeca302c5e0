-- A trading job lists the decisions already taken for its decision days (so a rerun skips
-- them); without this index that read scans every decision ever taken.
CREATE INDEX decisions_day ON decisions (day, kind);
