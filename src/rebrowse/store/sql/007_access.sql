-- What a key may do: 'admin' keys run the installation (create accounts, manage any key of their account),
-- 'owner' keys manage their own account's keys, 'member' keys run tasks and see only themselves.
ALTER TABLE api_keys ADD COLUMN role text NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'owner', 'member'));
UPDATE api_keys SET role = 'admin' WHERE is_admin;
-- An account without an active admin key gets its oldest active key as owner, so someone can still manage it.
UPDATE api_keys SET role = 'owner' WHERE id IN (
    SELECT DISTINCT ON (account_id) id FROM api_keys k
    WHERE revoked_at IS NULL AND NOT EXISTS (
        SELECT 1 FROM api_keys a WHERE a.account_id = k.account_id AND a.is_admin AND a.revoked_at IS NULL)
    ORDER BY account_id, created_at, id);
ALTER TABLE api_keys DROP COLUMN is_admin;
CREATE INDEX api_keys_active_admins ON api_keys (created_at) WHERE role = 'admin' AND revoked_at IS NULL;

-- Dashboard sessions: the cookie holds a session's id (sealed), so signing out or revoking the key ends it.
CREATE TABLE dashboard_sessions (
    id          uuid PRIMARY KEY,
    key_id      uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX dashboard_sessions_expires ON dashboard_sessions (expires_at);

-- Stream tokens that opened their one connection, kept until they expire (every API replica sees them).
CREATE TABLE spent_stream_tokens (
    id          uuid PRIMARY KEY,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX spent_stream_tokens_expires ON spent_stream_tokens (expires_at);

-- Workers by name, while they live: a task may be pinned only to a worker seen here lately.
CREATE TABLE worker_heartbeats (
    worker_name  text PRIMARY KEY,
    last_seen    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tasks_queued_pinned ON tasks (created_at) WHERE status = 'queued' AND pinned_worker IS NOT NULL;

-- An automation's own secure parameter values, sealed JSON; its definition keeps only "[sealed]" in their place.
ALTER TABLE automations ADD COLUMN secure_parameters bytea;
