-- Verify v2: services (VA…), their rate limits (RK…) and buckets (BL…),
-- verifications (VE…, codes kept only as keyed hashes), the safe list (GN…)
-- and Fraud Guard's blocks (persisted, so a restart keeps them).
CREATE TABLE verify_services (
    sid TEXT PRIMARY KEY NOT NULL,
    account_sid TEXT NOT NULL REFERENCES accounts (sid),
    friendly_name TEXT NOT NULL,
    code_length INTEGER NOT NULL,
    fraud_guard TEXT NOT NULL,
    do_not_share_warning_enabled BOOLEAN NOT NULL,
    date_created BIGINT NOT NULL,
    date_updated BIGINT NOT NULL
);
CREATE TABLE verify_rate_limits (
    sid TEXT PRIMARY KEY NOT NULL,
    service_sid TEXT NOT NULL REFERENCES verify_services (sid) ON DELETE CASCADE,
    account_sid TEXT NOT NULL,
    unique_name TEXT NOT NULL,
    description TEXT,
    date_created BIGINT NOT NULL,
    date_updated BIGINT NOT NULL,
    UNIQUE (service_sid, unique_name)
);
CREATE TABLE verify_buckets (
    sid TEXT PRIMARY KEY NOT NULL,
    rate_limit_sid TEXT NOT NULL REFERENCES verify_rate_limits (sid) ON DELETE CASCADE,
    service_sid TEXT NOT NULL,
    account_sid TEXT NOT NULL,
    max_requests BIGINT NOT NULL,
    interval_seconds BIGINT NOT NULL,
    date_created BIGINT NOT NULL,
    date_updated BIGINT NOT NULL
);
CREATE TABLE verifications (
    sid TEXT PRIMARY KEY NOT NULL,
    service_sid TEXT NOT NULL REFERENCES verify_services (sid) ON DELETE CASCADE,
    account_sid TEXT NOT NULL,
    to_number TEXT NOT NULL,
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    code_hash BYTEA NOT NULL,
    send_attempts TEXT NOT NULL,
    checks INTEGER NOT NULL,
    expires_at BIGINT NOT NULL,
    date_created BIGINT NOT NULL,
    date_updated BIGINT NOT NULL
);
CREATE INDEX verifications_live ON verifications (status, expires_at);
CREATE TABLE safe_list_numbers (
    sid TEXT PRIMARY KEY NOT NULL,
    account_sid TEXT NOT NULL REFERENCES accounts (sid),
    phone_number TEXT NOT NULL,
    date_created BIGINT NOT NULL,
    UNIQUE (account_sid, phone_number)
);
CREATE TABLE fraud_blocks (
    scope TEXT NOT NULL,
    prefix TEXT NOT NULL,
    account_sid TEXT NOT NULL,
    rule TEXT NOT NULL,
    evidence TEXT NOT NULL,
    numbers TEXT NOT NULL,
    since BIGINT NOT NULL,
    expires BIGINT NOT NULL,
    refused BIGINT NOT NULL,
    PRIMARY KEY (scope, prefix)
);
