-- Deliveries with the same ordering key (a message's or call's status
-- callbacks) are sent one at a time, in the order they are due.
ALTER TABLE webhook_deliveries ADD COLUMN ordering_key TEXT;
