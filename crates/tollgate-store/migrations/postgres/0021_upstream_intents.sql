-- Proxy mode: a create on its way to Twilio. Written before the request
-- leaves, removed with the record of Twilio's answer; one left behind (a
-- crash, an answer that never came) is looked up at Twilio and settled.
CREATE TABLE upstream_intents (
    local_sid TEXT PRIMARY KEY NOT NULL,
    account_sid TEXT NOT NULL,
    kind TEXT NOT NULL,
    to_number TEXT NOT NULL,
    from_number TEXT NOT NULL,
    body_key TEXT,
    idempotency_key TEXT,
    node TEXT NOT NULL,
    date_created BIGINT NOT NULL
);
CREATE INDEX upstream_intents_by_node ON upstream_intents (node, date_created);
