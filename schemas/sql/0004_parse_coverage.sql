-- The share of the indexed version's words that its chunks hold, measured by the parse stage.
ALTER TABLE documents ADD COLUMN IF NOT EXISTS coverage REAL;
