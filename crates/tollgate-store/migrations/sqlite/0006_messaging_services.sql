-- Messaging Services: sender pools.
CREATE TABLE messaging_services (
    sid TEXT PRIMARY KEY NOT NULL,
    account_sid TEXT NOT NULL REFERENCES accounts (sid),
    friendly_name TEXT NOT NULL,
    sticky_sender BOOLEAN NOT NULL,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL
);
CREATE TABLE service_numbers (
    service_sid TEXT NOT NULL REFERENCES messaging_services (sid) ON DELETE CASCADE,
    number_sid TEXT NOT NULL REFERENCES incoming_phone_numbers (sid) ON DELETE CASCADE,
    date_created INTEGER NOT NULL,
    PRIMARY KEY (service_sid, number_sid)
);
