-- The audit log: one global hash chain in seq order (crate tollgate-audit).
CREATE TABLE audit_events (
    seq INTEGER PRIMARY KEY NOT NULL,
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
    event_date INTEGER NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);
CREATE INDEX audit_events_by_account ON audit_events (account_sid, seq);
-- The chain's head: every append writes this one row first, so appends
-- are serialised and never fork.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash BLOB NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));
-- Where the chain starts after pruning: the last pruned event, signed.
CREATE TABLE audit_anchor (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash BLOB NOT NULL,
    signature BLOB NOT NULL,
    date_pruned INTEGER NOT NULL
);
-- How far each SIEM sink has delivered.
CREATE TABLE audit_sink_cursors (
    name TEXT PRIMARY KEY NOT NULL,
    seq INTEGER NOT NULL
);
