-- The cached automation a run that used a model leaves in the task's artifacts directory (RunResult.
-- cached_automation: its path), written when the task ends; NULL when the run left none.
ALTER TABLE tasks ADD COLUMN cached_automation text;
