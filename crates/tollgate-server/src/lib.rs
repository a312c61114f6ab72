//! Tollgate's HTTP edge: a Twilio-compatible API on one listener.
//!
//! Requests flow through tower layers (panic guard, timeout, trace), then the
//! [`auth::Principal`] extractor authenticates them against the in-memory
//! [`snapshot::Snapshot`] (no database read), then a handler per Twilio domain
//! (`api/`). Errors become Twilio's JSON in one place ([`error::ApiError`]).

pub mod account_settings;
pub mod admission;
pub mod alarms;
pub mod alerts;
pub mod api;
pub mod app;
pub mod audit;
pub mod audit_tasks;
pub mod auth;
pub mod auth_throttle;
pub mod carrier;
pub mod client_validation;
pub mod clock;
pub mod config;
pub mod edge;
pub mod error;
pub mod inbound;
pub mod lockdown;
pub mod privacy;
pub mod random;
pub mod routes;
pub mod snapshot;
pub mod startup;
pub mod status;
pub mod traffic;
pub mod triggers;
pub mod unsettled;
pub mod verify;
pub mod webhooks;
pub mod wire;
pub mod writer;

pub use app::App;
pub use clock::{Clock, SystemClock};
pub use config::{Config, RawConfig};
pub use startup::{StartError, initialise, prepare, serve};
