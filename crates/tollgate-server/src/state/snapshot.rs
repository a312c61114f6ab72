//! The in-memory view of accounts, credentials and rules that every request
//! is checked against. Immutable once published; a change publishes a copy
//! with its delta applied (see [`Snapshot`]).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use tollgate_policy::spend::{Period, Scope, SpendLimit};
use tollgate_policy::{GeoPolicy, VoicePermission};
use tollgate_secrets::{MasterKey, SecretError};
use tollgate_signature::client_validation::PublicKey;
use tollgate_store::{
    AccountRecord, ApiKeyRecord, BlockRecord, GeoPermissionRecord, NumberRecord, PublicKeyRecord,
    RateLimitRecord, ServiceRecord, SettingRecord, SpendLimitRecord, UpstreamRecord,
};
use tollgate_types::AccountStatus;
use zeroize::Zeroizing;

use crate::state::account_settings::AccountSettings;

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
    pub settings: Vec<SettingRecord>,
    pub recipients: Vec<(String, String)>,
    pub services: Vec<ServiceRecord>,
    pub service_numbers: Vec<(String, String)>,
    pub blocks: Vec<BlockRecord>,
    pub upstreams: Vec<UpstreamRecord>,
}

/// A Messaging Service with its pool (E.164 numbers, oldest first).
#[derive(Debug)]
pub struct ServiceEntry {
    pub record: ServiceRecord,
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

/// An account's upstream Twilio account (proxy mode), with its secrets
/// opened.
pub struct UpstreamEntry {
    pub account_sid: String,
    pub upstream_account_sid: String,
    pub api_key_sid: String,
    pub api_key_secret: Zeroizing<String>,
    /// What Twilio signs this account's webhooks with.
    pub auth_token: Zeroizing<String>,
    pub date_created: i64,
    pub date_updated: i64,
}

impl std::fmt::Debug for UpstreamEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamEntry")
            .field("account_sid", &self.account_sid)
            .field("upstream_account_sid", &self.upstream_account_sid)
            .field("api_key_sid", &self.api_key_sid)
            .finish_non_exhaustive()
    }
}

/// The associated data an upstream secret is sealed with: the account and
/// what the secret is, so one sealed value cannot stand in for another.
pub fn upstream_aad(account_sid: &str, what: &str) -> String {
    format!("{account_sid}:upstream-{what}")
}

/// A map that shares its structure with the snapshot it was copied from, so
/// copying a snapshot and changing one entry costs O(log n), not O(n).
pub type Map<K, V> = imbl::HashMap<K, V>;

/// Everything a request is checked against, in memory. A change copies the
/// current snapshot (cheap: the maps share structure), applies its delta
/// with the `put_*`/`remove_*` methods and publishes the copy; start-up
/// applies every row through the same methods.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// Phone numbers by E.164.
    pub numbers: Map<String, Arc<NumberEntry>>,
    /// The E.164 of each phone number, by its SID.
    pub number_sids: Map<String, String>,
    /// Velocity rules by account.
    pub rate_limits: Map<String, Arc<Vec<RateLimitRecord>>>,
    /// Spend caps by account.
    pub spend_limits: Map<String, Arc<Vec<SpendLimit>>>,
    /// Phishing and privacy switches by account (absent: defaults).
    pub settings: Map<String, Arc<AccountSettings>>,
    /// Inbound blocklist entries by account.
    pub blocks: Map<String, Arc<Vec<BlockRecord>>>,
    /// Messaging Services by SID.
    pub services: Map<String, Arc<ServiceEntry>>,
    /// Allowlisted recipients by account.
    pub recipients: Map<String, Arc<HashSet<String>>>,
    pub accounts: Map<String, Arc<AccountEntry>>,
    /// The main account's SID (once one exists).
    pub main_account_sid: Option<String>,
    pub keys: Map<String, Arc<KeyEntry>>,
    pub public_keys: Map<String, Arc<PublicKeyEntry>>,
    /// The SIDs of each account's public keys.
    pub public_keys_by_account: Map<String, Arc<Vec<String>>>,
    /// Each account's own geo permissions (absent: everything off).
    pub geo: Map<String, Arc<GeoPolicy>>,
    /// Upstream Twilio accounts by Tollgate account (proxy mode).
    pub upstreams: Map<String, Arc<UpstreamEntry>>,
    /// The Tollgate account of each upstream account SID.
    pub upstream_owners: Map<String, String>,
}

impl Snapshot {
    /// Builds a snapshot from store rows, opening every sealed token: the
    /// same `put_*` steps a change applies, once per row.
    pub fn build(
        master_key: &MasterKey,
        accounts: &[AccountRecord],
        keys: &[ApiKeyRecord],
        public_keys: &[PublicKeyRecord],
        geo: &[GeoPermissionRecord],
        traffic: &TrafficRows,
    ) -> Result<Snapshot, SecretError> {
        let mut snapshot = Snapshot::default();
        for record in accounts {
            snapshot.put_account(master_key, record)?;
        }
        for record in keys {
            snapshot.put_key(record);
        }
        for record in public_keys {
            snapshot.put_public_key(record);
        }
        snapshot.put_geo(geo);
        for record in &traffic.numbers {
            snapshot.put_number(master_key, record)?;
        }
        for record in &traffic.rate_limits {
            snapshot.put_rate_limit(record);
        }
        snapshot.put_settings(&traffic.settings);
        for record in &traffic.blocks {
            snapshot.put_block(record);
        }
        for record in &traffic.services {
            snapshot.put_service(record);
        }
        for (service, number) in &traffic.service_numbers {
            snapshot.add_service_number(service, number);
        }
        for (account, number) in &traffic.recipients {
            snapshot.add_recipient(account, number);
        }
        for record in &traffic.spend_limits {
            snapshot.put_spend_limit(record);
        }
        for record in &traffic.upstreams {
            snapshot.put_upstream(master_key, record)?;
        }
        Ok(snapshot)
    }

    /// Sets an account's upstream account, opening its secrets.
    pub fn put_upstream(
        &mut self,
        master_key: &MasterKey,
        record: &UpstreamRecord,
    ) -> Result<(), SecretError> {
        let account = &record.account_sid;
        let entry = UpstreamEntry {
            account_sid: account.clone(),
            upstream_account_sid: record.upstream_account_sid.clone(),
            api_key_sid: record.api_key_sid.clone(),
            api_key_secret: master_key
                .open_text(&upstream_aad(account, "key"), &record.api_key_secret_sealed)?,
            auth_token: master_key
                .open_text(&upstream_aad(account, "token"), &record.auth_token_sealed)?,
            date_created: record.date_created,
            date_updated: record.date_updated,
        };
        self.remove_upstream(account);
        self.upstream_owners
            .insert(record.upstream_account_sid.clone(), account.clone());
        self.upstreams.insert(account.clone(), Arc::new(entry));
        Ok(())
    }

    pub fn remove_upstream(&mut self, account: &str) {
        if let Some(old) = self.upstreams.remove(account) {
            self.upstream_owners.remove(&old.upstream_account_sid);
        }
    }

    /// Adds or replaces an account, opening its tokens.
    pub fn put_account(
        &mut self,
        master_key: &MasterKey,
        record: &AccountRecord,
    ) -> Result<(), SecretError> {
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
            self.main_account_sid = Some(record.sid.clone());
        }
        self.accounts.insert(record.sid.clone(), Arc::new(entry));
        Ok(())
    }

    /// Adds an API key, or replaces it; an unchanged key keeps its
    /// verification cache (a key's secret never changes).
    pub fn put_key(&mut self, record: &ApiKeyRecord) {
        if self.keys.get(&record.sid).is_some_and(|k| {
            k.secret_hash == record.secret_hash && k.account_sid == record.account_sid
        }) {
            return;
        }
        self.keys.insert(
            record.sid.clone(),
            Arc::new(KeyEntry {
                sid: record.sid.clone(),
                account_sid: record.account_sid.clone(),
                secret_hash: record.secret_hash.clone(),
                verified: OnceLock::new(),
            }),
        );
    }

    pub fn remove_key(&mut self, sid: &str) {
        self.keys.remove(sid);
    }

    /// Removes every API key of `accounts` (a lockdown revokes them). Reads
    /// every key: a lockdown is rare.
    pub fn remove_keys_of(&mut self, accounts: &HashSet<&str>) {
        self.keys
            .retain(|_, k| !accounts.contains(k.account_sid.as_str()));
    }

    /// Adds or replaces a public key, parsing it once.
    pub fn put_public_key(&mut self, record: &PublicKeyRecord) {
        if self
            .public_keys
            .get(&record.sid)
            .is_some_and(|k| k.record == *record)
        {
            return;
        }
        match PublicKey::from_pem(&record.public_key) {
            Ok(key) => {
                self.public_keys.insert(
                    record.sid.clone(),
                    Arc::new(PublicKeyEntry {
                        record: record.clone(),
                        key,
                    }),
                );
                edit_list(
                    &mut self.public_keys_by_account,
                    &record.account_sid,
                    |sids| {
                        if !sids.contains(&record.sid) {
                            sids.push(record.sid.clone());
                        }
                    },
                );
            }
            Err(e) => {
                // Checked at registration; a row that fails now is skipped, never trusted.
                tracing::error!(sid = %record.sid, error = %e, "stored public key does not parse");
                self.remove_public_key(&record.sid);
            }
        }
    }

    pub fn remove_public_key(&mut self, sid: &str) {
        if let Some(entry) = self.public_keys.remove(sid) {
            edit_list(
                &mut self.public_keys_by_account,
                &entry.record.account_sid,
                |sids| {
                    sids.retain(|s| s != sid);
                },
            );
        }
    }

    /// The public keys of `account`.
    pub fn public_keys_of(&self, account: &str) -> impl Iterator<Item = &Arc<PublicKeyEntry>> {
        self.public_keys_by_account
            .get(account)
            .into_iter()
            .flat_map(|sids| sids.iter())
            .filter_map(|sid| self.public_keys.get(sid))
    }

    /// Applies geo permission rows (each replaces its account, channel and
    /// country).
    pub fn put_geo(&mut self, rows: &[GeoPermissionRecord]) {
        let mut changed: HashMap<&str, GeoPolicy> = HashMap::new();
        for row in rows {
            let policy = changed.entry(row.account_sid.as_str()).or_insert_with(|| {
                self.geo
                    .get(&row.account_sid)
                    .map(|p| GeoPolicy::clone(p))
                    .unwrap_or_else(|| GeoPolicy {
                        owner: row.account_sid.clone(),
                        ..GeoPolicy::default()
                    })
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
                _ => {
                    policy.sms.remove(&row.iso_code);
                }
            }
        }
        for (account, policy) in changed {
            self.geo.insert(account.to_owned(), Arc::new(policy));
        }
    }

    /// Adds or replaces a phone number (found by its SID), opening its URLs.
    pub fn put_number(
        &mut self,
        master_key: &MasterKey,
        record: &NumberRecord,
    ) -> Result<(), SecretError> {
        let open = |sealed: &Option<Vec<u8>>| -> Result<Option<String>, SecretError> {
            sealed
                .as_deref()
                .map(|s| master_key.open_text(&record.sid, s).map(|t| t.to_string()))
                .transpose()
        };
        let entry = NumberEntry {
            sms_url: open(&record.sms_url_sealed)?,
            voice_url: open(&record.voice_url_sealed)?,
            status_callback: open(&record.status_callback_sealed)?,
            record: record.clone(),
        };
        if let Some(old) = self
            .number_sids
            .insert(record.sid.clone(), record.phone_number.clone())
            && old != record.phone_number
        {
            self.numbers.remove(&old);
        }
        self.numbers
            .insert(record.phone_number.clone(), Arc::new(entry));
        Ok(())
    }

    /// Removes a phone number by its SID, and from any pool that holds it.
    pub fn remove_number(&mut self, sid: &str) {
        let Some(e164) = self.number_sids.remove(sid) else {
            return;
        };
        let account = self
            .numbers
            .remove(&e164)
            .map(|n| n.record.account_sid.clone());
        let pools: Vec<String> = self
            .services
            .iter()
            .filter(|(_, s)| Some(&s.record.account_sid) == account.as_ref())
            .filter(|(_, s)| s.numbers.contains(&e164))
            .map(|(sid, _)| sid.clone())
            .collect();
        for service in pools {
            self.edit_pool(&service, |numbers| numbers.retain(|n| *n != e164));
        }
    }

    /// The phone number with SID `sid`.
    pub fn number_by_sid(&self, sid: &str) -> Option<&Arc<NumberEntry>> {
        self.numbers.get(self.number_sids.get(sid)?)
    }

    pub fn put_rate_limit(&mut self, record: &RateLimitRecord) {
        edit_list(&mut self.rate_limits, &record.account_sid, |list| {
            list.retain(|r| r.sid != record.sid);
            list.push(record.clone());
        });
    }

    pub fn remove_rate_limit(&mut self, account: &str, sid: &str) {
        edit_list(&mut self.rate_limits, account, |list| {
            list.retain(|r| r.sid != sid);
        });
    }

    /// Adds or replaces a spend cap (a row with an unknown scope or period
    /// is ignored, as it always was).
    pub fn put_spend_limit(&mut self, record: &SpendLimitRecord) {
        let (Some(scope), Some(period)) =
            (Scope::parse(&record.scope), Period::parse(&record.period))
        else {
            return;
        };
        let limit = SpendLimit {
            sid: record.sid.clone(),
            account_sid: record.account_sid.clone(),
            scope,
            period,
            limit_micros: record.limit_micros,
        };
        edit_list(&mut self.spend_limits, &record.account_sid, |list| {
            list.retain(|l| l.sid != limit.sid);
            list.push(limit);
        });
    }

    pub fn remove_spend_limit(&mut self, account: &str, sid: &str) {
        edit_list(&mut self.spend_limits, account, |list| {
            list.retain(|l| l.sid != sid);
        });
    }

    /// The spend caps of `account`.
    pub fn spend_limits_of(&self, account: &str) -> &[SpendLimit] {
        self.spend_limits.get(account).map_or(&[], |l| l.as_slice())
    }

    /// Applies setting rows.
    pub fn put_settings(&mut self, rows: &[SettingRecord]) {
        for row in rows {
            self.set_setting(&row.account_sid, &row.name, Some(&row.value));
        }
    }

    /// Sets one setting of `account`; `None` is a deleted row (the default).
    pub fn set_setting(&mut self, account: &str, name: &str, value: Option<&str>) {
        let mut settings = self.settings_of(account);
        settings.set(name, value);
        if settings == AccountSettings::default() {
            self.settings.remove(account);
        } else {
            self.settings.insert(account.to_owned(), Arc::new(settings));
        }
    }

    /// Adds or replaces a blocklist entry (one per account and prefix).
    pub fn put_block(&mut self, record: &BlockRecord) {
        edit_list(&mut self.blocks, &record.account_sid, |list| {
            list.retain(|b| b.prefix != record.prefix);
            list.push(record.clone());
        });
    }

    pub fn remove_block(&mut self, account: &str, prefix: &str) {
        edit_list(&mut self.blocks, account, |list| {
            list.retain(|b| b.prefix != prefix);
        });
    }

    /// Adds or replaces a Messaging Service; its pool stays.
    pub fn put_service(&mut self, record: &ServiceRecord) {
        let numbers = self
            .services
            .get(&record.sid)
            .map(|s| s.numbers.clone())
            .unwrap_or_default();
        self.services.insert(
            record.sid.clone(),
            Arc::new(ServiceEntry {
                record: record.clone(),
                numbers,
            }),
        );
    }

    pub fn remove_service(&mut self, sid: &str) {
        self.services.remove(sid);
    }

    /// Adds the phone number with SID `number_sid` to a service's pool.
    pub fn add_service_number(&mut self, service: &str, number_sid: &str) {
        let Some(e164) = self.number_sids.get(number_sid).cloned() else {
            return;
        };
        self.edit_pool(service, |numbers| {
            if !numbers.contains(&e164) {
                numbers.push(e164);
            }
        });
    }

    pub fn remove_service_number(&mut self, service: &str, number_sid: &str) {
        let Some(e164) = self.number_sids.get(number_sid).cloned() else {
            return;
        };
        self.edit_pool(service, |numbers| numbers.retain(|n| *n != e164));
    }

    fn edit_pool(&mut self, service: &str, edit: impl FnOnce(&mut Vec<String>)) {
        let Some(entry) = self.services.get(service) else {
            return;
        };
        let mut numbers = entry.numbers.clone();
        edit(&mut numbers);
        let record = entry.record.clone();
        self.services.insert(
            service.to_owned(),
            Arc::new(ServiceEntry { record, numbers }),
        );
    }

    pub fn add_recipient(&mut self, account: &str, e164: &str) {
        let mut set = self
            .recipients
            .get(account)
            .map(|s| HashSet::clone(s))
            .unwrap_or_default();
        set.insert(e164.to_owned());
        self.recipients.insert(account.to_owned(), Arc::new(set));
    }

    pub fn remove_recipient(&mut self, account: &str, e164: &str) {
        let Some(set) = self.recipients.get(account) else {
            return;
        };
        let mut set = HashSet::clone(set);
        set.remove(e164);
        if set.is_empty() {
            self.recipients.remove(account);
        } else {
            self.recipients.insert(account.to_owned(), Arc::new(set));
        }
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
    pub fn blocked(&self, account: &str, e164: &str, now_ms: i64) -> Option<&BlockRecord> {
        let digits = e164.trim_start_matches('+');
        self.blocks
            .get(account)?
            .iter()
            .filter(|b| digits.starts_with(b.prefix.as_str()))
            .filter(|b| b.expires_at.is_none_or(|t| t > now_ms))
            .max_by_key(|b| b.prefix.len())
    }

    /// The account's switches, or the defaults.
    pub fn settings_of(&self, account: &str) -> AccountSettings {
        self.settings
            .get(account)
            .map(|s| AccountSettings::clone(s))
            .unwrap_or_default()
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

/// Edits the list of `account` in `map` (copy on write); an emptied list is
/// removed.
fn edit_list<T: Clone>(
    map: &mut Map<String, Arc<Vec<T>>>,
    account: &str,
    edit: impl FnOnce(&mut Vec<T>),
) {
    let mut list = map.get(account).map(|l| Vec::clone(l)).unwrap_or_default();
    edit(&mut list);
    if list.is_empty() {
        map.remove(account);
    } else {
        map.insert(account.to_owned(), Arc::new(list));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use tollgate_secrets::RandomSource;

    use super::*;
    use crate::random::OsRandom;

    const ACCOUNTS: [&str; 3] = ["AC0", "AC1", "AC2"];

    /// One write, as the store and a change would both see it.
    #[derive(Debug, Clone)]
    enum Op {
        PutNumber(usize, usize, bool),
        RemoveNumber(usize),
        PutRate(usize, usize),
        RemoveRate(usize, usize),
        PutSpend(usize, usize, bool),
        RemoveSpend(usize, usize),
        SetSetting(usize, usize, Option<usize>),
        PutBlock(usize, usize, bool),
        RemoveBlock(usize, usize),
        PutService(usize, usize, bool),
        RemoveService(usize),
        AddPool(usize, usize),
        RemovePool(usize, usize),
        AddRecipient(usize, usize),
        RemoveRecipient(usize, usize),
        PutKey(usize, usize),
        RemoveKey(usize),
        PutGeo(usize, usize, bool, bool),
    }

    fn op() -> impl Strategy<Value = Op> {
        let a = 0..ACCOUNTS.len();
        let i = 0..4usize;
        prop_oneof![
            (a.clone(), i.clone(), any::<bool>()).prop_map(|(a, i, u)| Op::PutNumber(a, i, u)),
            i.clone().prop_map(Op::RemoveNumber),
            (a.clone(), i.clone()).prop_map(|(a, i)| Op::PutRate(a, i)),
            (a.clone(), i.clone()).prop_map(|(a, i)| Op::RemoveRate(a, i)),
            (a.clone(), i.clone(), any::<bool>()).prop_map(|(a, i, c)| Op::PutSpend(a, i, c)),
            (a.clone(), i.clone()).prop_map(|(a, i)| Op::RemoveSpend(a, i)),
            (a.clone(), 0..4usize, proptest::option::of(0..3usize))
                .prop_map(|(a, n, v)| Op::SetSetting(a, n, v)),
            (a.clone(), i.clone(), any::<bool>()).prop_map(|(a, i, e)| Op::PutBlock(a, i, e)),
            (a.clone(), i.clone()).prop_map(|(a, i)| Op::RemoveBlock(a, i)),
            (a.clone(), i.clone(), any::<bool>()).prop_map(|(a, i, s)| Op::PutService(a, i, s)),
            i.clone().prop_map(Op::RemoveService),
            (i.clone(), i.clone()).prop_map(|(s, n)| Op::AddPool(s, n)),
            (i.clone(), i.clone()).prop_map(|(s, n)| Op::RemovePool(s, n)),
            (a.clone(), i.clone()).prop_map(|(a, n)| Op::AddRecipient(a, n)),
            (a.clone(), i.clone()).prop_map(|(a, n)| Op::RemoveRecipient(a, n)),
            (a.clone(), i.clone()).prop_map(|(a, k)| Op::PutKey(a, k)),
            i.clone().prop_map(Op::RemoveKey),
            (a, i, any::<bool>(), any::<bool>()).prop_map(|(a, c, v, on)| Op::PutGeo(a, c, v, on)),
        ]
    }

    /// The rows a store holds, kept in the order it returns them.
    #[derive(Default)]
    struct Rows {
        accounts: Vec<AccountRecord>,
        keys: Vec<ApiKeyRecord>,
        geo: Vec<GeoPermissionRecord>,
        traffic: TrafficRows,
    }

    fn upsert<T>(rows: &mut Vec<T>, row: T, same: impl Fn(&T) -> bool) {
        match rows.iter().position(same) {
            Some(i) => rows[i] = row,
            None => rows.push(row),
        }
    }

    /// Applies `op` to the rows (as the store would) and to `snapshot` (as a
    /// change would).
    fn apply(op: &Op, rows: &mut Rows, snapshot: &mut Snapshot, key: &MasterKey) {
        let t = &mut rows.traffic;
        match *op {
            Op::PutNumber(a, i, url) => {
                let sid = format!("PN{i}");
                // A number keeps its account and E.164 (as the API allows).
                let account = t
                    .numbers
                    .iter()
                    .find(|n| n.sid == sid)
                    .map_or(ACCOUNTS[a].to_owned(), |n| n.account_sid.clone());
                let record = NumberRecord {
                    sid: sid.clone(),
                    account_sid: account,
                    phone_number: format!("+1201555000{i}"),
                    friendly_name: String::new(),
                    sms_url_sealed: url
                        .then(|| key.seal(&sid, b"https://example.com/sms", &mut OsRandom))
                        .transpose()
                        .unwrap(),
                    sms_method: "POST".into(),
                    voice_url_sealed: None,
                    voice_method: "POST".into(),
                    status_callback_sealed: None,
                    status_callback_method: "POST".into(),
                    date_created: 0,
                    date_updated: 0,
                };
                snapshot.put_number(key, &record).unwrap();
                upsert(&mut t.numbers, record, |n| n.sid == sid);
            }
            Op::RemoveNumber(i) => {
                let sid = format!("PN{i}");
                t.numbers.retain(|n| n.sid != sid);
                snapshot.remove_number(&sid);
            }
            Op::PutRate(a, i) => {
                let record = RateLimitRecord {
                    sid: format!("RL{a}{i}"),
                    account_sid: ACCOUNTS[a].into(),
                    limit_key: "to".into(),
                    max_events: i32::try_from(i).unwrap(),
                    interval_seconds: 60,
                    channel: None,
                    date_created: 0,
                };
                snapshot.put_rate_limit(&record);
                let sid = record.sid.clone();
                upsert(&mut t.rate_limits, record, |r| r.sid == sid);
            }
            Op::RemoveRate(a, i) => {
                let sid = format!("RL{a}{i}");
                t.rate_limits.retain(|r| r.sid != sid);
                snapshot.remove_rate_limit(ACCOUNTS[a], &sid);
            }
            Op::PutSpend(a, i, country) => {
                let record = SpendLimitRecord {
                    sid: format!("SL{a}{i}"),
                    account_sid: ACCOUNTS[a].into(),
                    scope: if country {
                        "country:GB".into()
                    } else {
                        "account".into()
                    },
                    period: "day".into(),
                    limit_micros: 1000,
                    date_created: 0,
                };
                snapshot.put_spend_limit(&record);
                let sid = record.sid.clone();
                upsert(&mut t.spend_limits, record, |r| r.sid == sid);
            }
            Op::RemoveSpend(a, i) => {
                let sid = format!("SL{a}{i}");
                t.spend_limits.retain(|r| r.sid != sid);
                snapshot.remove_spend_limit(ACCOUNTS[a], &sid);
            }
            Op::SetSetting(a, n, v) => {
                let name = [
                    "RecipientPolicy",
                    "LinkDomains",
                    "RedactPhoneNumbers",
                    "LockdownSeal",
                ][n];
                let value = v.map(|v| ["allowlist", "example.com", "true"][v]);
                let account = ACCOUNTS[a];
                t.settings
                    .retain(|s| !(s.account_sid == account && s.name == name));
                if let Some(value) = value {
                    t.settings.push(SettingRecord {
                        account_sid: account.into(),
                        name: name.into(),
                        value: value.into(),
                        date_updated: 0,
                    });
                }
                snapshot.set_setting(account, name, value);
            }
            Op::PutBlock(a, i, expires) => {
                let record = BlockRecord {
                    account_sid: ACCOUNTS[a].into(),
                    prefix: format!("4420{i}"),
                    expires_at: expires.then_some(5),
                    date_created: 0,
                };
                snapshot.put_block(&record);
                let (acc, prefix) = (record.account_sid.clone(), record.prefix.clone());
                upsert(&mut t.blocks, record, |b| {
                    b.account_sid == acc && b.prefix == prefix
                });
            }
            Op::RemoveBlock(a, i) => {
                let prefix = format!("4420{i}");
                t.blocks
                    .retain(|b| !(b.account_sid == ACCOUNTS[a] && b.prefix == prefix));
                snapshot.remove_block(ACCOUNTS[a], &prefix);
            }
            Op::PutService(a, i, sticky) => {
                let sid = format!("MG{i}");
                let account = t
                    .services
                    .iter()
                    .find(|s| s.sid == sid)
                    .map_or(ACCOUNTS[a].to_owned(), |s| s.account_sid.clone());
                let record = ServiceRecord {
                    sid: sid.clone(),
                    account_sid: account,
                    friendly_name: String::new(),
                    sticky_sender: sticky,
                    date_created: 0,
                    date_updated: 0,
                };
                snapshot.put_service(&record);
                upsert(&mut t.services, record, |s| s.sid == sid);
            }
            Op::RemoveService(i) => {
                let sid = format!("MG{i}");
                t.services.retain(|s| s.sid != sid);
                t.service_numbers.retain(|(s, _)| *s != sid);
                snapshot.remove_service(&sid);
            }
            Op::AddPool(s, n) => {
                let (service, number) = (format!("MG{s}"), format!("PN{n}"));
                // The API adds a number of the service's own account, once.
                let fits = t
                    .services
                    .iter()
                    .find(|x| x.sid == service)
                    .is_some_and(|x| {
                        t.numbers
                            .iter()
                            .any(|p| p.sid == number && p.account_sid == x.account_sid)
                    });
                if fits
                    && !t
                        .service_numbers
                        .contains(&(service.clone(), number.clone()))
                {
                    t.service_numbers.push((service.clone(), number.clone()));
                    snapshot.add_service_number(&service, &number);
                }
            }
            Op::RemovePool(s, n) => {
                let pair = (format!("MG{s}"), format!("PN{n}"));
                if t.service_numbers.contains(&pair) {
                    t.service_numbers.retain(|p| *p != pair);
                    snapshot.remove_service_number(&pair.0, &pair.1);
                }
            }
            Op::AddRecipient(a, n) => {
                let row = (ACCOUNTS[a].to_owned(), format!("+4477009000{n}"));
                if !t.recipients.contains(&row) {
                    t.recipients.push(row.clone());
                }
                snapshot.add_recipient(&row.0, &row.1);
            }
            Op::RemoveRecipient(a, n) => {
                let row = (ACCOUNTS[a].to_owned(), format!("+4477009000{n}"));
                t.recipients.retain(|r| *r != row);
                snapshot.remove_recipient(&row.0, &row.1);
            }
            Op::PutKey(a, k) => {
                let record = ApiKeyRecord {
                    sid: format!("SK{k}"),
                    account_sid: ACCOUNTS[a].into(),
                    friendly_name: String::new(),
                    secret_hash: format!("hash{k}"),
                    date_created: 0,
                    date_updated: 0,
                };
                snapshot.put_key(&record);
                let sid = record.sid.clone();
                upsert(&mut rows.keys, record, |r| r.sid == sid);
            }
            Op::RemoveKey(k) => {
                let sid = format!("SK{k}");
                rows.keys.retain(|r| r.sid != sid);
                snapshot.remove_key(&sid);
            }
            Op::PutGeo(a, c, voice, on) => {
                let record = GeoPermissionRecord {
                    account_sid: ACCOUNTS[a].into(),
                    channel: if voice { "voice".into() } else { "sms".into() },
                    iso_code: ["GB", "FR", "DE", "US"][c].into(),
                    low_risk: on,
                    high_risk_special: false,
                    high_risk_tollfraud: on,
                    date_updated: 0,
                };
                snapshot.put_geo(std::slice::from_ref(&record));
                upsert(&mut rows.geo, record.clone(), |g| {
                    g.account_sid == record.account_sid
                        && g.channel == record.channel
                        && g.iso_code == record.iso_code
                });
            }
        }
    }

    /// What a snapshot holds, in a comparable form.
    fn view(s: &Snapshot) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (e164, n) in s.numbers.iter() {
            out.insert(
                format!("number {e164}"),
                format!("{:?} {:?}", n.record, n.sms_url),
            );
        }
        for (sid, e164) in s.number_sids.iter() {
            out.insert(format!("number sid {sid}"), e164.clone());
        }
        for (a, list) in s.rate_limits.iter() {
            let mut l: Vec<String> = list.iter().map(|r| format!("{r:?}")).collect();
            l.sort();
            out.insert(format!("rate {a}"), l.join(";"));
        }
        for (a, list) in s.spend_limits.iter() {
            let mut l: Vec<String> = list.iter().map(|r| format!("{r:?}")).collect();
            l.sort();
            out.insert(format!("spend {a}"), l.join(";"));
        }
        for (a, settings) in s.settings.iter() {
            out.insert(format!("settings {a}"), format!("{settings:?}"));
        }
        for (a, list) in s.blocks.iter() {
            let mut l: Vec<String> = list.iter().map(|r| format!("{r:?}")).collect();
            l.sort();
            out.insert(format!("blocks {a}"), l.join(";"));
        }
        for (sid, service) in s.services.iter() {
            out.insert(
                format!("service {sid}"),
                format!("{:?} {:?}", service.record, service.numbers),
            );
        }
        for (a, set) in s.recipients.iter() {
            let mut l: Vec<&String> = set.iter().collect();
            l.sort();
            out.insert(format!("recipients {a}"), format!("{l:?}"));
        }
        for (sid, k) in s.keys.iter() {
            out.insert(
                format!("key {sid}"),
                format!("{} {}", k.account_sid, k.secret_hash),
            );
        }
        for (a, policy) in s.geo.iter() {
            let mut voice: Vec<String> = policy.voice.iter().map(|v| format!("{v:?}")).collect();
            voice.sort();
            let mut sms: Vec<&String> = policy.sms.iter().collect();
            sms.sort();
            out.insert(
                format!("geo {a}"),
                format!("{} {voice:?} {sms:?}", policy.owner),
            );
        }
        for (sid, a) in s.accounts.iter() {
            out.insert(format!("account {sid}"), format!("{a:?}"));
        }
        out
    }

    fn account(key: &MasterKey, sid: &str) -> AccountRecord {
        AccountRecord {
            sid: sid.into(),
            owner_account_sid: "AC0".into(),
            friendly_name: String::new(),
            status: AccountStatus::Active,
            auth_token_sealed: key.seal(sid, b"token", &mut OsRandom).unwrap(),
            secondary_token_sealed: None,
            secondary_token_created: None,
            require_client_validation: false,
            dialing_permissions_inheritance: true,
            date_created: 0,
            date_updated: 0,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Applying each change's delta to the snapshot gives the snapshot
        /// that start-up would build from the rows the changes left.
        #[test]
        fn deltas_match_a_rebuild(ops in proptest::collection::vec(op(), 0..40)) {
            let key = MasterKey::generate(&mut OsRandom);
            let mut rows = Rows::default();
            for sid in ACCOUNTS {
                rows.accounts.push(account(&key, sid));
            }
            let mut snapshot = Snapshot::build(&key, &rows.accounts, &[], &[], &[], &TrafficRows::default()).unwrap();
            for op in &ops {
                // Each change works on a copy, as App::change does; the
                // earlier snapshot must stay as it was.
                let before = view(&snapshot);
                let earlier = snapshot.clone();
                apply(op, &mut rows, &mut snapshot, &key);
                prop_assert_eq!(view(&earlier), before);
            }
            let rebuilt = Snapshot::build(&key, &rows.accounts, &rows.keys, &[], &rows.geo, &rows.traffic).unwrap();
            prop_assert_eq!(view(&snapshot), view(&rebuilt));
        }
    }

    #[test]
    fn a_key_put_again_keeps_its_verification_cache() {
        let mut snapshot = Snapshot::default();
        let record = ApiKeyRecord {
            sid: "SK1".into(),
            account_sid: "AC0".into(),
            friendly_name: "a".into(),
            secret_hash: "h".into(),
            date_created: 0,
            date_updated: 0,
        };
        snapshot.put_key(&record);
        let mut fingerprint = [0u8; 32];
        OsRandom.fill(&mut fingerprint);
        snapshot
            .keys
            .get("SK1")
            .unwrap()
            .verified
            .set(fingerprint)
            .unwrap();
        snapshot.put_key(&ApiKeyRecord {
            friendly_name: "b".into(),
            ..record
        });
        assert_eq!(
            snapshot.keys.get("SK1").unwrap().verified.get(),
            Some(&fingerprint)
        );
    }
}
