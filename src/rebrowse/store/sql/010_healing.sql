-- Self-healing (engine/healing.py). `healing`: what the submission asked for, NULL for the server's setting
-- (REBROWSE_HEALING). `healed`: the steps the model healed (path, failed_command, error, command), written when
-- the task ends, NULL before; tasks that ended before this migration could not heal, so theirs is empty.
ALTER TABLE tasks ADD COLUMN healing boolean;
ALTER TABLE tasks ADD COLUMN healed jsonb;
UPDATE tasks SET healed = '[]' WHERE completed_at IS NOT NULL;
