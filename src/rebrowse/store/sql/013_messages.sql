-- A task waiting for a 2FA code says so in tasks.waiting_for (012) with kind two_fa.

-- Inbound messages two_fa_action reads codes from (POST /api/v1/messages, the Twilio webhook, an account's IMAP
-- mailbox, Slack). Only what a wait filters on by time is in clear: sender, receiver and text are sealed with the
-- server's secret key, and rows go once older than the retention setting.
CREATE TABLE messages (
    id           uuid PRIMARY KEY,
    account_id   uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    channel      text NOT NULL CHECK (channel IN ('email', 'sms', 'slack')),
    received_at  timestamptz NOT NULL,
    -- A source's own id (IMAP UID with the mailbox's UIDVALIDITY, Slack ts, Twilio MessageSid): fetched again,
    -- a message is stored once.
    source_key   text,
    sealed       bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_by_account ON messages (account_id, channel, received_at);
CREATE UNIQUE INDEX messages_source_key ON messages (account_id, channel, source_key) WHERE source_key IS NOT NULL;
CREATE INDEX messages_by_age ON messages (created_at);

-- Where an account's messages come from (kind imap, slack or twilio), with its credentials sealed.
CREATE TABLE message_sources (
    account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('imap', 'slack', 'twilio')),
    sealed      bytea NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, kind)
);

-- A stored message wakes the two_fa_action waits of its account (LISTEN rebrowse_messages): whatever path
-- inserted it, the payload names only the account.
CREATE FUNCTION rebrowse_notify_message() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('rebrowse_messages', NEW.account_id::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER messages_notify AFTER INSERT ON messages FOR EACH ROW EXECUTE FUNCTION rebrowse_notify_message();
