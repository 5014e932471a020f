-- Dispatch that does not slow down as the queue grows.
--
-- procrastinate's fetch (procrastinate_fetch_job_v2, procrastinate 3.10) walks the waiting jobs in priority order
-- until it meets one it may run. Jobs of other queues (tasks pinned to other workers) and jobs waiting for a
-- serialization key that a running job holds are walked over one by one, so a worker's every fetch cost grew
-- with them: at 100,000 waiting jobs, 18 ms (other queues) and 77 ms (one held key) instead of 0.6 ms.
--
-- This replacement chooses the same job. Per queue it first looks at the queue's first rows in priority order
-- (the usual case: one of them may run). Only when all of those wait does it search exhaustively, through
-- indexes: the best job without a key, and the first job of every key that no running job holds, visiting each
-- key once instead of each job. procrastinate's own version is kept for a fetch from every queue (NULL), which
-- rebrowse never does. A procrastinate upgrade that redefines the function simply restores its behaviour.

CREATE INDEX rebrowse_jobs_todo_by_queue ON procrastinate_jobs (queue_name, priority DESC, id) WHERE status = 'todo';
CREATE INDEX rebrowse_jobs_todo_unlocked ON procrastinate_jobs (queue_name, priority DESC, id)
    WHERE status = 'todo' AND lock IS NULL;
CREATE INDEX rebrowse_jobs_todo_by_lock ON procrastinate_jobs (lock, priority DESC, id)
    WHERE status = 'todo' AND lock IS NOT NULL;

-- The id of the waiting job that ranks first among those of a key, unless a job of the key is running (NULL).
CREATE FUNCTION rebrowse_first_of_free_key(key text) RETURNS bigint
    LANGUAGE sql STABLE
AS $$
    SELECT id FROM procrastinate_jobs
    WHERE status = 'todo' AND lock = key
        AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs WHERE lock = key AND status = 'doing')
    ORDER BY priority DESC, id LIMIT 1
$$;

-- The best job of one queue that may start (priority, then age), ignoring `skipped`; NULL when there is none.
-- procrastinate's rule: a job may start when it is due and has no key, or no job of its key is running and none
-- waiting ranks before it (higher priority, or equal priority and older), whatever their queues.
CREATE FUNCTION rebrowse_queue_next_job(queue character varying, skipped bigint[]) RETURNS procrastinate_jobs
    LANGUAGE plpgsql STABLE
AS $$
DECLARE
    first_rows CONSTANT integer := 50;
    examined integer := 0;
    seen_keys text[] := '{}';
    job procrastinate_jobs;
    best procrastinate_jobs;
    key text;
BEGIN
    FOR job IN
        SELECT * FROM procrastinate_jobs
        WHERE status = 'todo' AND queue_name = queue AND id <> ALL (skipped)
        ORDER BY priority DESC, id LIMIT first_rows
    LOOP
        examined := examined + 1;
        CONTINUE WHEN job.scheduled_at > now();
        IF job.lock IS NULL THEN
            RETURN job;
        END IF;
        -- A later job of a key already seen cannot start: the earlier one ranks before it.
        CONTINUE WHEN job.lock = ANY (seen_keys);
        seen_keys := seen_keys || job.lock;
        IF rebrowse_first_of_free_key(job.lock) = job.id THEN
            RETURN job;
        END IF;
    END LOOP;
    IF examined < first_rows THEN
        RETURN NULL;
    END IF;

    -- Every first row waits: search the whole queue, each key once.
    SELECT * INTO best FROM procrastinate_jobs
    WHERE status = 'todo' AND lock IS NULL AND queue_name = queue AND id <> ALL (skipped)
        AND (scheduled_at IS NULL OR scheduled_at <= now())
    ORDER BY priority DESC, id LIMIT 1;
    key := (SELECT min(lock) FROM procrastinate_jobs WHERE status = 'todo' AND lock IS NOT NULL);
    WHILE key IS NOT NULL LOOP
        SELECT * INTO job FROM procrastinate_jobs WHERE id = rebrowse_first_of_free_key(key);
        IF job.queue_name = queue AND job.id <> ALL (skipped)
            AND (job.scheduled_at IS NULL OR job.scheduled_at <= now())
            AND (best.id IS NULL OR job.priority > best.priority
                OR (job.priority = best.priority AND job.id < best.id)) THEN
            best := job;
        END IF;
        key := (SELECT min(lock) FROM procrastinate_jobs WHERE status = 'todo' AND lock IS NOT NULL AND lock > key);
    END LOOP;
    RETURN best;
END;
$$;

-- The best job of these queues that may start, ignoring `skipped`; NULL when there is none.
CREATE FUNCTION rebrowse_next_job(queues character varying[], skipped bigint[]) RETURNS procrastinate_jobs
    LANGUAGE plpgsql STABLE
AS $$
DECLARE
    best procrastinate_jobs;
    found procrastinate_jobs;
    queue character varying;
BEGIN
    FOREACH queue IN ARRAY queues LOOP
        found := rebrowse_queue_next_job(queue, skipped);
        IF found.id IS NOT NULL AND (best.id IS NULL OR found.priority > best.priority
                OR (found.priority = best.priority AND found.id < best.id)) THEN
            best := found;
        END IF;
    END LOOP;
    RETURN best;
END;
$$;

CREATE OR REPLACE FUNCTION procrastinate_fetch_job_v2(
    target_queue_names character varying[],
    p_worker_id bigint
)
    RETURNS procrastinate_jobs
    LANGUAGE plpgsql
AS $$
DECLARE
    found_jobs procrastinate_jobs;
    chosen procrastinate_jobs;
    skipped bigint[] := '{}';
BEGIN
    IF target_queue_names IS NULL THEN
        -- procrastinate's own search, unchanged.
        WITH candidate AS (
            SELECT jobs.*
                FROM procrastinate_jobs AS jobs
                WHERE
                    NOT EXISTS (
                        SELECT 1
                            FROM procrastinate_jobs AS other_jobs
                            WHERE
                                jobs.lock IS NOT NULL
                                AND other_jobs.lock = jobs.lock
                                AND (
                                    other_jobs.status = 'doing'
                                    OR
                                    (
                                        other_jobs.status = 'todo'
                                        AND (
                                            other_jobs.priority > jobs.priority
                                            OR (
                                            other_jobs.priority = jobs.priority
                                            AND other_jobs.id < jobs.id
                                            )
                                        )
                                    )
                                )
                    )
                    AND jobs.status = 'todo'
                    AND (jobs.scheduled_at IS NULL OR jobs.scheduled_at <= now())
                ORDER BY jobs.priority DESC, jobs.id ASC LIMIT 1
                FOR UPDATE OF jobs SKIP LOCKED
        )
        UPDATE procrastinate_jobs
            SET status = 'doing', worker_id = p_worker_id
            FROM candidate
            WHERE procrastinate_jobs.id = candidate.id
            RETURNING procrastinate_jobs.* INTO found_jobs;
        RETURN found_jobs;
    END IF;

    LOOP
        chosen := rebrowse_next_job(target_queue_names, skipped);
        EXIT WHEN chosen.id IS NULL;
        -- Another worker may be taking it at this moment: then it is skipped, as FOR UPDATE SKIP LOCKED does.
        PERFORM 1 FROM procrastinate_jobs WHERE id = chosen.id AND status = 'todo' FOR UPDATE SKIP LOCKED;
        IF FOUND THEN
            UPDATE procrastinate_jobs
                SET status = 'doing', worker_id = p_worker_id
                WHERE id = chosen.id
                RETURNING * INTO found_jobs;
            RETURN found_jobs;
        END IF;
        skipped := skipped || chosen.id;
    END LOOP;
    RETURN found_jobs;
END;
$$;
