-- Bumped by changes made outside the server (tollgate lockdown): a running
-- server polls it and reloads its snapshot.
CREATE TABLE state_generation (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO state_generation (id, generation) VALUES (1, 0);
