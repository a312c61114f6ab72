//! One module per Twilio domain and resource.

pub mod accounts;
pub mod auth_tokens;
pub mod balance;
pub mod keys;
pub mod meta;
pub mod public_keys;
pub mod settings;
pub mod webhooks;
pub mod decisions;
pub mod geo;
pub mod lookup;
