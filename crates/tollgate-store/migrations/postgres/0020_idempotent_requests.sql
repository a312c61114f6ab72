-- Proxy mode: creates sent with an Idempotency-Key. A key is claimed
-- (pending) before the request goes to Twilio and holds Twilio's answer
-- (sealed) once it came back, so a retry gets that answer instead of a
-- second send. request_hash ties the key to the request it was used for.
CREATE TABLE idempotent_requests (
    account_sid TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    answer_status BIGINT,
    answer_sealed BYTEA,
    date_created BIGINT NOT NULL,
    PRIMARY KEY (account_sid, idempotency_key)
);
CREATE INDEX idempotent_requests_by_date ON idempotent_requests (date_created);
