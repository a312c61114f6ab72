-- Alerts (NO…): errors returned or observed, without secrets.
CREATE TABLE alerts (
    sid TEXT PRIMARY KEY NOT NULL,
    account_sid TEXT NOT NULL,
    error_code INTEGER NOT NULL,
    log_level TEXT NOT NULL,
    alert_text TEXT NOT NULL,
    request_method TEXT,
    request_url TEXT,
    resource_sid TEXT,
    date_created BIGINT NOT NULL
);
CREATE INDEX alerts_by_account ON alerts (account_sid, date_created);
-- Alarms (AL…): a threshold of matching alerts in a sliding window.
CREATE TABLE alarms (
    sid TEXT PRIMARY KEY NOT NULL,
    account_sid TEXT NOT NULL REFERENCES accounts (sid),
    friendly_name TEXT,
    query_type TEXT NOT NULL,
    query TEXT,
    trigger_value BIGINT NOT NULL,
    time_window TEXT NOT NULL,
    webhook_sealed BLOB,
    enabled BOOLEAN NOT NULL,
    action TEXT NOT NULL,
    date_created BIGINT NOT NULL,
    date_updated BIGINT NOT NULL
);
