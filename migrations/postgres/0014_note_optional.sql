-- A request's note is required unless the advisor makes it optional in
-- their booking rules (issue 17).
ALTER TABLE advisor_policies ADD COLUMN note_optional BOOLEAN NOT NULL DEFAULT FALSE;
