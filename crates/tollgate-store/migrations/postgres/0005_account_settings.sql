-- Per-account switches (recipient and link policies, stripping, redaction), by name.
CREATE TABLE account_settings (
    account_sid TEXT NOT NULL REFERENCES accounts (sid),
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    date_updated BIGINT NOT NULL,
    PRIMARY KEY (account_sid, name)
);

-- Numbers an account with RecipientPolicy=allowlist may message.
CREATE TABLE recipients (
    account_sid TEXT NOT NULL REFERENCES accounts (sid),
    phone_number TEXT NOT NULL,
    date_created BIGINT NOT NULL,
    PRIMARY KEY (account_sid, phone_number)
);
