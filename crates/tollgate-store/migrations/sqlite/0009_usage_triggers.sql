-- Usage triggers (UT…); the callback URL is sealed. fired_period is the
-- start of the period it last fired in: the conditional update on it makes
-- a trigger fire once per period, across restarts.
CREATE TABLE usage_triggers (
    sid TEXT PRIMARY KEY NOT NULL,
    account_sid TEXT NOT NULL REFERENCES accounts (sid),
    friendly_name TEXT,
    callback_url_sealed BLOB NOT NULL,
    callback_method TEXT NOT NULL,
    trigger_value TEXT NOT NULL,
    threshold INTEGER NOT NULL,
    usage_category TEXT NOT NULL,
    recurring TEXT NOT NULL,
    trigger_by TEXT NOT NULL,
    action TEXT NOT NULL,
    fired_period INTEGER,
    date_fired INTEGER,
    current_value TEXT,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL
);
CREATE INDEX usage_triggers_by_account ON usage_triggers (account_sid, date_created, sid);
