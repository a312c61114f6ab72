//! The in-memory view of accounts and credentials that every request is
//! authenticated against. Immutable; replaced whole on each change.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use tollgate_policy::spend::{Period, Scope, SpendLimit};
use tollgate_policy::{GeoPolicy, VoicePermission};
use tollgate_secrets::{MasterKey, SecretError};
use tollgate_signature::client_validation::PublicKey;
use tollgate_store::{
    AccountRecord, ApiKeyRecord, GeoPermissionRecord, NumberRecord, PublicKeyRecord,
    RateLimitRecord, SpendLimitRecord,
};
use tollgate_types::AccountStatus;
use zeroize::Zeroizing;

/// What authentication needs to know about one account.
pub struct AccountEntry {
    pub sid: String,
    pub owner_account_sid: String,
    pub status: AccountStatus,
    pub primary_token: Zeroizing<String>,
    pub secondary_token: Option<Zeroizing<String>>,
    /// Every request authenticated as this account must carry a valid
    /// `Twilio-Client-Validation` JWT.
    pub require_client_validation: bool,
    /// A subaccount uses its parent's geo permissions.
    pub dialing_permissions_inheritance: bool,
}

impl AccountEntry {
    pub fn is_main(&self) -> bool {
        self.sid == self.owner_account_sid
    }
}

impl std::fmt::Debug for AccountEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountEntry")
            .field("sid", &self.sid)
            .field("owner_account_sid", &self.owner_account_sid)
            .field("status", &self.status)
            .field("require_client_validation", &self.require_client_validation)
            .finish_non_exhaustive()
    }
}

/// What authentication needs to know about one API key.
#[derive(Debug)]
pub struct KeyEntry {
    pub sid: String,
    pub account_sid: String,
    pub secret_hash: String,
    /// HMAC of the secret once argon2 has verified it (or at creation), so
    /// later requests cost one HMAC instead of one argon2 run.
    pub verified: OnceLock<[u8; 32]>,
}

/// The traffic-related rows a snapshot is built from.
#[derive(Debug, Default)]
pub struct TrafficRows {
    pub numbers: Vec<NumberRecord>,
    pub rate_limits: Vec<RateLimitRecord>,
    pub spend_limits: Vec<SpendLimitRecord>,
    pub settings: Vec<tollgate_store::SettingRecord>,
    pub recipients: Vec<(String, String)>,
    pub services: Vec<tollgate_store::ServiceRecord>,
    pub service_numbers: Vec<(String, String)>,
    pub blocks: Vec<tollgate_store::BlockRecord>,
}

/// A Messaging Service with its pool (E.164 numbers, oldest first).
#[derive(Debug)]
pub struct ServiceEntry {
    pub record: tollgate_store::ServiceRecord,
    pub numbers: Vec<String>,
}

/// A registered client-validation public key, parsed once.
#[derive(Debug)]
pub struct PublicKeyEntry {
    pub record: PublicKeyRecord,
    pub key: PublicKey,
}

/// A phone number of an account, with its URLs opened.
#[derive(Debug)]
pub struct NumberEntry {
    pub record: NumberRecord,
    pub sms_url: Option<String>,
    pub voice_url: Option<String>,
    pub status_callback: Option<String>,
}

/// Everything a request is checked against, in memory.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Phone numbers by E.164.
    pub numbers: HashMap<String, Arc<NumberEntry>>,
    /// Velocity rules by account.
    pub rate_limits: HashMap<String, Vec<RateLimitRecord>>,
    /// Every spend cap.
    pub spend_limits: Vec<SpendLimit>,
    /// Phishing and privacy switches by account (absent: defaults).
    pub settings: HashMap<String, crate::account_settings::AccountSettings>,
    /// Inbound blocklist entries by account.
    pub blocks: HashMap<String, Vec<tollgate_store::BlockRecord>>,
    /// Messaging Services by SID.
    pub services: HashMap<String, Arc<ServiceEntry>>,
    /// Allowlisted recipients by account.
    pub recipients: HashMap<String, std::collections::HashSet<String>>,
    pub accounts: HashMap<String, Arc<AccountEntry>>,
    /// The main account's SID (once one exists).
    pub main_account_sid: Option<String>,
    pub keys: HashMap<String, Arc<KeyEntry>>,
    pub public_keys: HashMap<String, Arc<PublicKeyEntry>>,
    /// Each account's own geo permissions (absent: everything off).
    pub geo: HashMap<String, Arc<GeoPolicy>>,
}

impl Snapshot {
    /// Builds a snapshot from store rows, opening every sealed token. Key
    /// entries of `previous` are kept (with their verification cache) when the
    /// key still exists: a key's secret never changes.
    pub fn build(
        master_key: &MasterKey,
        accounts: &[AccountRecord],
        keys: &[ApiKeyRecord],
        public_keys: &[PublicKeyRecord],
        geo: &[GeoPermissionRecord],
        traffic: &TrafficRows,
        previous: Option<&Snapshot>,
    ) -> Result<Snapshot, SecretError> {
        let mut snapshot = Snapshot::default();
        for record in accounts {
            let entry = AccountEntry {
                sid: record.sid.clone(),
                owner_account_sid: record.owner_account_sid.clone(),
                status: record.status,
                primary_token: master_key.open_text(&record.sid, &record.auth_token_sealed)?,
                secondary_token: record
                    .secondary_token_sealed
                    .as_deref()
                    .map(|sealed| master_key.open_text(&record.sid, sealed))
                    .transpose()?,
                require_client_validation: record.require_client_validation,
                dialing_permissions_inheritance: record.dialing_permissions_inheritance,
            };
            if entry.is_main() {
                snapshot.main_account_sid = Some(record.sid.clone());
            }
            snapshot
                .accounts
                .insert(record.sid.clone(), Arc::new(entry));
        }
        for record in keys {
            let kept = previous
                .and_then(|p| p.keys.get(&record.sid))
                .filter(|k| k.secret_hash == record.secret_hash)
                .cloned();
            let entry = kept.unwrap_or_else(|| {
                Arc::new(KeyEntry {
                    sid: record.sid.clone(),
                    account_sid: record.account_sid.clone(),
                    secret_hash: record.secret_hash.clone(),
                    verified: OnceLock::new(),
                })
            });
            snapshot.keys.insert(record.sid.clone(), entry);
        }
        for record in public_keys {
            let kept = previous
                .and_then(|p| p.public_keys.get(&record.sid))
                .filter(|k| k.record == *record)
                .cloned();
            let entry = match kept {
                Some(entry) => entry,
                None => match PublicKey::from_pem(&record.public_key) {
                    Ok(key) => Arc::new(PublicKeyEntry {
                        record: record.clone(),
                        key,
                    }),
                    Err(e) => {
                        // Checked at registration; a row that fails now is skipped, never trusted.
                        tracing::error!(sid = %record.sid, error = %e, "stored public key does not parse");
                        continue;
                    }
                },
            };
            snapshot.public_keys.insert(record.sid.clone(), entry);
        }
        let mut policies: HashMap<String, GeoPolicy> = HashMap::new();
        for row in geo {
            let policy = policies
                .entry(row.account_sid.clone())
                .or_insert_with(|| GeoPolicy {
                    owner: row.account_sid.clone(),
                    ..GeoPolicy::default()
                });
            match row.channel.as_str() {
                "voice" => {
                    policy.voice.insert(
                        row.iso_code.clone(),
                        VoicePermission {
                            low_risk: row.low_risk,
                            high_risk_special: row.high_risk_special,
                            high_risk_tollfraud: row.high_risk_tollfraud,
                        },
                    );
                }
                _ if row.low_risk => {
                    policy.sms.insert(row.iso_code.clone());
                }
                _ => {}
            }
        }
        snapshot.geo = policies
            .into_iter()
            .map(|(sid, policy)| (sid, Arc::new(policy)))
            .collect();
        let open = |sid: &str, sealed: &Option<Vec<u8>>| -> Result<Option<String>, SecretError> {
            sealed
                .as_deref()
                .map(|s| master_key.open_text(sid, s).map(|t| t.to_string()))
                .transpose()
        };
        for record in &traffic.numbers {
            let entry = NumberEntry {
                sms_url: open(&record.sid, &record.sms_url_sealed)?,
                voice_url: open(&record.sid, &record.voice_url_sealed)?,
                status_callback: open(&record.sid, &record.status_callback_sealed)?,
                record: record.clone(),
            };
            snapshot
                .numbers
                .insert(record.phone_number.clone(), Arc::new(entry));
        }
        for limit in &traffic.rate_limits {
            snapshot
                .rate_limits
                .entry(limit.account_sid.clone())
                .or_default()
                .push(limit.clone());
        }
        snapshot.settings = crate::account_settings::from_rows(&traffic.settings);
        for block in &traffic.blocks {
            snapshot
                .blocks
                .entry(block.account_sid.clone())
                .or_default()
                .push(block.clone());
        }
        let by_sid: HashMap<&str, &str> = traffic
            .numbers
            .iter()
            .map(|n| (n.sid.as_str(), n.phone_number.as_str()))
            .collect();
        for service in &traffic.services {
            let numbers = traffic
                .service_numbers
                .iter()
                .filter(|(s, _)| *s == service.sid)
                .filter_map(|(_, n)| by_sid.get(n.as_str()).map(|e| (*e).to_owned()))
                .collect();
            snapshot.services.insert(
                service.sid.clone(),
                Arc::new(ServiceEntry {
                    record: service.clone(),
                    numbers,
                }),
            );
        }
        for (account, number) in &traffic.recipients {
            snapshot
                .recipients
                .entry(account.clone())
                .or_default()
                .insert(number.clone());
        }
        snapshot.spend_limits = traffic
            .spend_limits
            .iter()
            .filter_map(|r| {
                Some(SpendLimit {
                    sid: r.sid.clone(),
                    account_sid: r.account_sid.clone(),
                    scope: Scope::parse(&r.scope)?,
                    period: Period::parse(&r.period)?,
                    limit_micros: r.limit_micros,
                })
            })
            .collect();
        Ok(snapshot)
    }

    /// The geo permissions that apply to `account`: its parent's when it is a
    /// subaccount that inherits, else its own.
    pub fn effective_geo(&self, account: &AccountEntry) -> Arc<GeoPolicy> {
        let owner = if !account.is_main() && account.dialing_permissions_inheritance {
            &account.owner_account_sid
        } else {
            &account.sid
        };
        self.geo.get(owner).cloned().unwrap_or_else(|| {
            Arc::new(GeoPolicy {
                owner: owner.clone(),
                ..GeoPolicy::default()
            })
        })
    }

    /// The blocklist entry that covers `e164` for `account` at `now`, if any.
    pub fn blocked(
        &self,
        account: &str,
        e164: &str,
        now_ms: i64,
    ) -> Option<&tollgate_store::BlockRecord> {
        let digits = e164.trim_start_matches('+');
        self.blocks
            .get(account)?
            .iter()
            .filter(|b| digits.starts_with(b.prefix.as_str()))
            .filter(|b| b.expires_at.is_none_or(|t| t > now_ms))
            .max_by_key(|b| b.prefix.len())
    }

    /// The account's switches, or the defaults.
    pub fn settings_of(&self, account: &str) -> crate::account_settings::AccountSettings {
        self.settings.get(account).cloned().unwrap_or_default()
    }

    /// The account and its parent (when it has one): whose caps and rules apply.
    pub fn chain<'a>(&self, account: &'a AccountEntry) -> Vec<&'a str> {
        if account.is_main() {
            vec![account.sid.as_str()]
        } else {
            vec![account.sid.as_str(), account.owner_account_sid.as_str()]
        }
    }

    /// The account `sid` if `actor` may act on it: itself, or a subaccount it owns.
    pub fn accessible(&self, actor: &AccountEntry, sid: &str) -> Option<&Arc<AccountEntry>> {
        self.accounts
            .get(sid)
            .filter(|target| target.sid == actor.sid || target.owner_account_sid == actor.sid)
    }
}
