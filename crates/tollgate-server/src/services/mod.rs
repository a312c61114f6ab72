//! What the gateway does, for every edge: admission of a send, status and
//! callbacks, webhooks, triggers, alarms, alerts, lockdown, inbound traffic,
//! the sandbox carrier's loops and the audit tasks. Imports the app and
//! state, never the HTTP layer.

pub mod admission;
pub mod alarms;
pub mod alerts;
pub mod audit_tasks;
pub mod inbound;
pub mod lockdown;
pub mod proxy;
pub mod sandbox;
pub mod status;
pub mod triggers;
pub mod unsettled;
pub mod upstream;
pub mod webhooks;
