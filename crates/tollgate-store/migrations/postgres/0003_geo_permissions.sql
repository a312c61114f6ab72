-- Subaccounts use their parent's voice and SMS geo permissions unless this is off.
ALTER TABLE accounts ADD COLUMN dialing_permissions_inheritance BOOLEAN NOT NULL DEFAULT TRUE;

-- Per-account geo permissions. A missing row means everything off.
-- For SMS only low_risk is used (the country is enabled or not).
CREATE TABLE geo_permissions (
    account_sid TEXT NOT NULL REFERENCES accounts (sid),
    channel TEXT NOT NULL CHECK (channel IN ('voice', 'sms')),
    iso_code TEXT NOT NULL,
    low_risk BOOLEAN NOT NULL,
    high_risk_special BOOLEAN NOT NULL,
    high_risk_tollfraud BOOLEAN NOT NULL,
    date_updated BIGINT NOT NULL,
    PRIMARY KEY (account_sid, channel, iso_code)
);
