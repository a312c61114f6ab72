-- The audit log: one global hash chain in seq order (crate tollgate-audit).
CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY NOT NULL,
    sid TEXT NOT NULL UNIQUE,
    account_sid TEXT NOT NULL,
    actor_sid TEXT,
    actor_type TEXT NOT NULL,
    source TEXT NOT NULL,
    source_ip_address TEXT,
    event_type TEXT NOT NULL,
    resource_sid TEXT,
    resource_type TEXT NOT NULL,
    event_data TEXT NOT NULL,
    event_date BIGINT NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash BYTEA NOT NULL
);
CREATE INDEX audit_events_by_account ON audit_events (account_sid, seq);
-- The chain's head: every append updates this one row first (a row lock),
-- so appends are serialised and never fork.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash BYTEA NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));
-- Where the chain starts after pruning: the last pruned event, signed.
CREATE TABLE audit_anchor (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    signature BYTEA NOT NULL,
    date_pruned BIGINT NOT NULL
);
-- How far each SIEM sink has delivered.
CREATE TABLE audit_sink_cursors (
    name TEXT PRIMARY KEY NOT NULL,
    seq BIGINT NOT NULL
);
