-- Warm sessions per login and proxies (issue 16).
-- browser_sessions: the browser state (Playwright storage state + sessionStorage) a successful run left, sealed, one per
-- account, endpoint and the values of unique_parameter_names (`login`; `login_hash` keys it).
CREATE TABLE browser_sessions (
    id            uuid PRIMARY KEY,
    account_id    uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    endpoint_name text NOT NULL,
    login         jsonb NOT NULL,
    login_hash    text NOT NULL,
    state         bytea NOT NULL,
    task_id       uuid NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, endpoint_name, login_hash)
);
-- proxies: an account's named upstream proxies; the URL (with its credentials) sealed, its shown form without them.
CREATE TABLE proxies (
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       text NOT NULL,
    url        bytea NOT NULL,
    shown      text NOT NULL,
    bypass     jsonb NOT NULL DEFAULT '[]',
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, name)
);
-- An automation's settings on the server (reuse_session, use_proxy, proxy): the defaults of its tasks.
ALTER TABLE automations ADD COLUMN settings jsonb NOT NULL DEFAULT '{}';
-- What a submission asked (NULL: the automation's setting), and whether the run started from a kept state.
ALTER TABLE tasks ADD COLUMN reuse_session boolean;
ALTER TABLE tasks ADD COLUMN use_proxy boolean;
ALTER TABLE tasks ADD COLUMN proxy_session_id text;
ALTER TABLE tasks ADD COLUMN session_reused boolean NOT NULL DEFAULT false;
