-- Recordings from the dashboard: a task of kind 'recording' runs Playwright's recorder in a worker slot on
-- `start_url` instead of replaying an automation (it has none: endpoint_name '' and automation_version 0).
-- `recording`: what the worker recorded so far ({steps, draft, errors}); never a secret's value (password fields
-- are secure parameters without a value). `stop_requested`: the owner asked the worker to stop and write the draft.
ALTER TABLE tasks ADD COLUMN kind text NOT NULL DEFAULT 'automation' CHECK (kind IN ('automation', 'recording'));
ALTER TABLE tasks ADD COLUMN start_url text;
ALTER TABLE tasks ADD COLUMN recording jsonb;
ALTER TABLE tasks ADD COLUMN stop_requested boolean NOT NULL DEFAULT false;
-- "Run once" of a recording's draft: a task of kind 'automation' that runs the draft it carries (endpoint_name ''
-- and automation_version 0: no saved automation); a draft holds no secret's value (secure parameters have none).
ALTER TABLE tasks ADD COLUMN inline_automation jsonb;
