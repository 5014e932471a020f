-- Human in the loop. `waiting_for`: set while a running task waits for a person ({kind, message, since,
-- deadline, node}), NULL otherwise (the status stays `running`, so Optexity clients see nothing new).
-- `callback_events`: the extra callback events the submission subscribed to (e.g. ["waiting_for_person"]);
-- the final callback is sent whatever it holds.
ALTER TABLE tasks ADD COLUMN waiting_for jsonb;
ALTER TABLE tasks ADD COLUMN callback_events jsonb NOT NULL DEFAULT '[]';
