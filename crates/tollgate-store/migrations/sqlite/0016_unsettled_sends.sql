-- A send a 201 promised is unsettled until its final status: the node that
-- took it resumes it at start-up. `carrier_node` names that node;
-- `resume_sealed` holds, under the master key, what the row redacts (the
-- number, the body) until the send settles. The partial indexes hold only
-- unsettled rows, so finding them costs nothing that grows with history.
ALTER TABLE messages ADD COLUMN carrier_node TEXT;
ALTER TABLE messages ADD COLUMN resume_sealed BLOB;
CREATE INDEX messages_unsettled ON messages (carrier_node) WHERE status = 'queued';
ALTER TABLE calls ADD COLUMN carrier_node TEXT;
ALTER TABLE calls ADD COLUMN resume_sealed BLOB;
CREATE INDEX calls_unsettled ON calls (carrier_node) WHERE status IN ('queued', 'ringing', 'in-progress');
