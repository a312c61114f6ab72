-- Proxy mode: each Tollgate account's upstream Twilio account. The API key
-- secret (for REST calls) and the auth token (Twilio signs the account's
-- webhooks with it) are sealed under the master key. One upstream account
-- belongs to one Tollgate account, so an inbound webhook maps to one tenant.
CREATE TABLE upstream_accounts (
    account_sid TEXT PRIMARY KEY NOT NULL,
    upstream_account_sid TEXT NOT NULL UNIQUE,
    api_key_sid TEXT NOT NULL,
    api_key_secret_sealed BLOB NOT NULL,
    auth_token_sealed BLOB NOT NULL,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL
);
