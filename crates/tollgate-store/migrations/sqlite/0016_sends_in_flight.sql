-- Sends a 201 promised and the carrier has not settled: resumed at start-up
-- by the node that took them. `sealed` holds, under the master key, what the
-- stored row redacts (the number, the body) until the send settles. Rows
-- live for seconds; start-up reads them all, so the key is the only index.
CREATE TABLE sends_in_flight (
    sid TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    account_sid TEXT NOT NULL,
    node TEXT NOT NULL,
    sealed BLOB,
    date_created INTEGER NOT NULL
) WITHOUT ROWID;
