-- Public Key Client Validation: per-account switch and registered public keys.
ALTER TABLE accounts ADD COLUMN require_client_validation BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE public_keys (
    sid TEXT PRIMARY KEY NOT NULL,
    account_sid TEXT NOT NULL REFERENCES accounts (sid),
    friendly_name TEXT,
    public_key TEXT NOT NULL,
    date_created BIGINT NOT NULL,
    date_updated BIGINT NOT NULL
);
CREATE INDEX public_keys_by_account ON public_keys (account_sid, date_created, sid);

-- Webhooks waiting for delivery, and their outcome. The target URL may hold
-- credentials, so it is sealed; url_redacted has them removed.
CREATE TABLE webhook_deliveries (
    sid TEXT PRIMARY KEY NOT NULL,
    account_sid TEXT NOT NULL,
    url_sealed BYTEA NOT NULL,
    url_redacted TEXT NOT NULL,
    method TEXT NOT NULL,
    content_type TEXT NOT NULL,
    body BYTEA NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'delivered', 'failed')),
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    last_response_code INTEGER,
    last_error TEXT,
    date_created BIGINT NOT NULL,
    date_updated BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_account ON webhook_deliveries (account_sid, date_created, sid);
