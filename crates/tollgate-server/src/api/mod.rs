//! One module per Twilio domain and resource.

pub mod accounts;
pub mod auth_tokens;
pub mod balance;
pub mod decisions;
pub mod geo;
pub mod keys;
pub mod lookup;
pub mod meta;
pub mod public_keys;
pub mod settings;
pub mod webhooks;
pub mod calls;
pub mod limits;
pub mod messages;
pub mod numbers;
pub mod sandbox;
pub mod usage;
