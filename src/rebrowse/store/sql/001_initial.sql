-- Accounts own API keys, automations and tasks; nothing crosses from one account to another.
CREATE TABLE accounts (
    id              uuid PRIMARY KEY,
    name            text NOT NULL,
    -- HMAC key for callback signatures, sealed with the server's secret key (never stored in clear).
    signing_secret  bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id            uuid PRIMARY KEY,
    account_id    uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name          text NOT NULL,
    prefix        text NOT NULL,           -- the first characters, shown in listings to tell keys apart
    key_hash      bytea NOT NULL UNIQUE,   -- sha256 of the key; keys are random, so no slow hash is needed
    is_admin      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);

CREATE TABLE automations (
    account_id     uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    endpoint_name  text NOT NULL,
    version        integer NOT NULL,
    definition     jsonb NOT NULL,
    description    text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz,
    PRIMARY KEY (account_id, endpoint_name, version)
);

CREATE TABLE tasks (
    id                      uuid PRIMARY KEY,
    account_id              uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    endpoint_name           text NOT NULL,
    automation_version      integer NOT NULL,
    input_parameters        jsonb NOT NULL,
    secure_parameters       bytea,          -- sealed JSON: references and seeds are secrets too
    unique_parameter_names  jsonb NOT NULL DEFAULT '[]',
    serialization_key       text,           -- account + sorted unique values; one running task per key
    priority                integer,        -- Optexity's: lower first, NULL last
    max_timeout_in_minutes  double precision NOT NULL,
    callback_url            text,
    callback_api_key        bytea,          -- sealed
    status                  text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'allocated', 'running', 'success', 'failed', 'killed', 'cancelled')),
    error                   text,
    retry_count             integer NOT NULL DEFAULT 0,
    job_id                  bigint,
    worker_name             text,
    pinned_worker           text,           -- set by a worker's local /inference: only that worker runs it
    output_data             jsonb,
    for_loop_status         jsonb,
    downloads               jsonb,
    final_screenshot        text,
    steps_count             integer NOT NULL DEFAULT 0,
    created_at              timestamptz NOT NULL DEFAULT now(),
    allocated_at            timestamptz,
    started_at              timestamptz,
    completed_at            timestamptz
);
CREATE INDEX tasks_account_created ON tasks (account_id, created_at DESC, id DESC);
CREATE INDEX tasks_account_status_created ON tasks (account_id, status, created_at DESC, id DESC);
CREATE INDEX tasks_account_endpoint_created ON tasks (account_id, endpoint_name, created_at DESC, id DESC);

-- The callback outbox: a row is written in the transaction that gives a task its terminal status.
CREATE TABLE callback_events (
    id               uuid PRIMARY KEY,       -- the event id receivers de-duplicate on
    task_id          uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    account_id       uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    url              text NOT NULL,
    api_key          bytea,                  -- sealed
    payload          jsonb NOT NULL,
    state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    give_up_at       timestamptz NOT NULL,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz
);
CREATE INDEX callback_events_due ON callback_events (next_attempt_at) WHERE state = 'pending';
CREATE INDEX callback_events_task ON callback_events (task_id);

CREATE TABLE callback_attempts (
    id           bigserial PRIMARY KEY,
    event_id     uuid NOT NULL REFERENCES callback_events (id) ON DELETE CASCADE,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    status_code  integer,
    error        text,
    duration_ms  double precision NOT NULL
);
CREATE INDEX callback_attempts_event ON callback_attempts (event_id, attempted_at);

-- Where a running task's live view can be reached (used by the stream endpoint; filled by workers).
CREATE TABLE worker_slots (
    worker_name  text NOT NULL,
    slot         integer NOT NULL,
    vnc_host     text,
    vnc_port     integer,
    task_id      uuid,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (worker_name, slot)
);
