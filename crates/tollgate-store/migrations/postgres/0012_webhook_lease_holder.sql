-- Which node holds a delivery's lease: a restarted node takes back its own
-- leases at once instead of waiting for them to expire.
ALTER TABLE webhook_deliveries ADD COLUMN lease_holder TEXT;
