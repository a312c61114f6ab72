-- Accounts and subaccounts. Auth tokens are sealed (AES-256-GCM), never plaintext.
CREATE TABLE accounts (
    sid TEXT PRIMARY KEY NOT NULL,
    owner_account_sid TEXT NOT NULL,
    friendly_name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'closed')),
    auth_token_sealed BLOB NOT NULL,
    secondary_token_sealed BLOB,
    secondary_token_created INTEGER,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL
);
CREATE INDEX accounts_by_owner ON accounts (owner_account_sid, date_created, sid);
CREATE INDEX accounts_by_date ON accounts (date_created, sid);

-- API keys. Secrets are stored only as argon2id PHC strings.
CREATE TABLE api_keys (
    sid TEXT PRIMARY KEY NOT NULL,
    account_sid TEXT NOT NULL REFERENCES accounts (sid),
    friendly_name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL
);
CREATE INDEX api_keys_by_account ON api_keys (account_sid, date_created, sid);
