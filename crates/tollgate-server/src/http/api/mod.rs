//! One module per Twilio domain and resource.

pub mod accounts;
pub mod auth_tokens;
pub mod balance;
pub mod blocklist;
pub mod calls;
pub mod decisions;
pub mod events;
pub mod fraud_guard;
pub mod geo;
pub mod keys;
pub mod limits;
pub mod lockdown;
pub mod lookup;
pub mod messages;
pub mod meta;
pub mod monitor;
pub mod numbers;
pub mod public_keys;
pub mod recipients;
pub mod sandbox;
pub mod services;
pub mod settings;
pub mod usage;
pub mod usage_triggers;
pub mod verify;
pub mod webhooks;
