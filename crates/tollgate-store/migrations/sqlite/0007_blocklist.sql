-- Inbound blocklist: numbers or prefixes whose texts are dropped, optionally until a time.
CREATE TABLE blocklist (
    account_sid TEXT NOT NULL REFERENCES accounts (sid),
    prefix TEXT NOT NULL,
    expires_at INTEGER,
    date_created INTEGER NOT NULL,
    PRIMARY KEY (account_sid, prefix)
);
