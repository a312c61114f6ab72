-- Alarms keep Twilio's description (Monitor v2).
ALTER TABLE alarms ADD COLUMN description TEXT;
