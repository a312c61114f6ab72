-- A keyed hash of a verification's number and service: how a pending
-- verification is found again when `to_number` is stored redacted
-- (RedactPhoneNumbers).
ALTER TABLE verifications ADD COLUMN to_key TEXT NOT NULL DEFAULT '';
