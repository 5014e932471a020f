-- Scheduled runs: a named cron schedule per account submits a task of `endpoint_name` at every matching minute of
-- its time zone. `request`: the task request's fields without its secrets; `sealed_request`: its secrets
-- (secure_parameters, task_callback_api_key) sealed with the server's key, NULL when there are none.
CREATE TABLE schedules (
    id              uuid PRIMARY KEY,
    account_id      uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name            text NOT NULL,
    cron            text NOT NULL,
    timezone        text NOT NULL DEFAULT 'UTC',
    endpoint_name   text NOT NULL,
    request         jsonb NOT NULL,
    sealed_request  bytea,
    paused          boolean NOT NULL DEFAULT false,
    last_run_at     timestamptz,
    last_task_id    uuid,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, name)
);
CREATE INDEX schedules_active ON schedules (id) WHERE NOT paused;
-- One row per (schedule, minute) that fired: inserted in the transaction that creates the tick's task, so a
-- tick fired twice (two API processes, a retried job) creates one task; `error` when the tick could not run.
CREATE TABLE schedule_ticks (
    schedule_id     uuid NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    tick            timestamptz NOT NULL,
    task_id         uuid,
    error           text,
    fired_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule_id, tick)
);
-- The schedule that submitted a task (NULL for a task submitted by a caller).
ALTER TABLE tasks ADD COLUMN schedule_name text;
