//! Tollgate's HTTP edge: a Twilio-compatible API on one listener.
//!
//! Requests flow through tower layers (panic guard, timeout, trace), then the
//! [`auth::Principal`] extractor authenticates them against the in-memory
//! [`snapshot::Snapshot`] (no database read), then a handler per Twilio domain
//! (`api/`). Errors become Twilio's JSON in one place ([`error::ApiError`]).

pub mod app;
pub mod audit;
pub mod clock;
pub mod config;
pub mod error;
pub mod http;
pub mod privacy;
pub mod random;
pub mod services;
pub mod startup;
pub mod state;

pub use app::App;
pub use clock::{Clock, SystemClock};
pub use config::{Config, RawConfig};
pub use startup::{StartError, initialise, prepare, serve};
