-- Phone numbers an account owns. URLs may carry credentials, so they are sealed.
CREATE TABLE incoming_phone_numbers (
    sid TEXT PRIMARY KEY NOT NULL,
    account_sid TEXT NOT NULL REFERENCES accounts (sid),
    phone_number TEXT NOT NULL UNIQUE,
    friendly_name TEXT NOT NULL,
    sms_url_sealed BLOB,
    sms_method TEXT NOT NULL,
    voice_url_sealed BLOB,
    voice_method TEXT NOT NULL,
    status_callback_sealed BLOB,
    status_callback_method TEXT NOT NULL,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL
);
CREATE INDEX incoming_phone_numbers_by_account ON incoming_phone_numbers (account_sid, date_created, sid);

-- Messages, sent, received and blocked (rule is the blocking rule id; blocked ones cost nothing).
CREATE TABLE messages (
    sid TEXT PRIMARY KEY NOT NULL,
    account_sid TEXT NOT NULL,
    messaging_service_sid TEXT,
    direction TEXT NOT NULL,
    from_number TEXT NOT NULL,
    to_number TEXT NOT NULL,
    body TEXT,
    status TEXT NOT NULL,
    num_segments INTEGER NOT NULL,
    price_micros INTEGER,
    country TEXT,
    error_code INTEGER,
    error_message TEXT,
    rule TEXT,
    status_callback_sealed BLOB,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL,
    date_sent INTEGER
);
CREATE INDEX messages_by_account ON messages (account_sid, date_created, sid);

CREATE TABLE calls (
    sid TEXT PRIMARY KEY NOT NULL,
    account_sid TEXT NOT NULL,
    direction TEXT NOT NULL,
    from_number TEXT NOT NULL,
    to_number TEXT NOT NULL,
    status TEXT NOT NULL,
    time_limit INTEGER NOT NULL,
    duration INTEGER,
    start_time INTEGER,
    end_time INTEGER,
    price_micros INTEGER,
    country TEXT,
    error_code INTEGER,
    rule TEXT,
    status_callback_sealed BLOB,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL
);
CREATE INDEX calls_by_account ON calls (account_sid, date_created, sid);

-- Velocity limits and hard spend caps.
CREATE TABLE rate_limits (
    sid TEXT PRIMARY KEY NOT NULL,
    account_sid TEXT NOT NULL REFERENCES accounts (sid),
    limit_key TEXT NOT NULL,
    max_events INTEGER NOT NULL,
    interval_seconds INTEGER NOT NULL,
    channel TEXT,
    date_created INTEGER NOT NULL
);
CREATE TABLE spend_limits (
    sid TEXT PRIMARY KEY NOT NULL,
    account_sid TEXT NOT NULL REFERENCES accounts (sid),
    scope TEXT NOT NULL,
    period TEXT NOT NULL,
    limit_micros INTEGER NOT NULL,
    date_created INTEGER NOT NULL
);
