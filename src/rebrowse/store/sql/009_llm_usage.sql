-- What a task's LLM calls cost in all (calls, failed_calls, input_tokens, output_tokens, requests): written when
-- the task ends, NULL before. Tasks that ended before this migration could not ask a model, so theirs is zeros.
ALTER TABLE tasks ADD COLUMN llm_usage jsonb;
UPDATE tasks SET llm_usage = '{"calls": 0, "failed_calls": 0, "input_tokens": 0, "output_tokens": 0, "requests": 0}'
    WHERE completed_at IS NOT NULL;
