-- Workers find a task from its job (stalled-job recovery); the recovery queries are in queue/jobs.py.
CREATE INDEX tasks_job ON tasks (job_id);

-- Recovery passes look at few rows: tasks never deferred, and tasks a worker holds.
CREATE INDEX tasks_unqueued ON tasks (created_at) WHERE status = 'queued' AND job_id IS NULL;
CREATE INDEX tasks_taken ON tasks (allocated_at) WHERE status IN ('allocated', 'running');

-- procrastinate wakes workers when a job is inserted, not when a job frees its lock. Without this, the next
-- task of a serialization key would wait for a worker's polling interval after the previous one ended.
-- The payload follows procrastinate's own "job_inserted" notification, which is what its workers listen for.
CREATE FUNCTION rebrowse_notify_lock_released() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    payload text := json_build_object('type', 'job_inserted', 'job_id', NEW.id)::text;
BEGIN
    PERFORM pg_notify('procrastinate_queue_v1#' || NEW.queue_name, payload);
    IF NEW.queue_name <> 'default' THEN
        PERFORM pg_notify('procrastinate_queue_v1#default', payload);
    END IF;
    PERFORM pg_notify('procrastinate_any_queue_v1', payload);
    RETURN NEW;
END;
$$;

CREATE TRIGGER rebrowse_lock_released
    AFTER UPDATE OF status ON procrastinate_jobs
    FOR EACH ROW
    WHEN (OLD.status = 'doing' AND NEW.status <> 'doing' AND NEW.lock IS NOT NULL)
    EXECUTE FUNCTION rebrowse_notify_lock_released();
