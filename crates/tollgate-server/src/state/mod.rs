//! In-memory state and its handles: the snapshot every request is checked
//! against, traffic counters, the group-commit writer, Verify's live state,
//! the sandbox's queues. Imports only leaf modules and itself.

pub mod account_settings;
pub mod aggregates;
pub mod alarm_windows;
pub mod auth_throttle;
pub mod sandbox;
pub mod snapshot;
pub mod traffic;
pub mod upstream_client;
pub mod usage_triggers;
pub mod verifications;
pub mod webhook_client;
pub mod writer;
