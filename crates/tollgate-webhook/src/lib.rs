//! Webhook delivery decisions, without I/O.
//!
//! - [`request`]: the request Tollgate sends, signed as Twilio signs it
//!   (`X-Twilio-Signature` with the account's primary auth token), with the
//!   URL's credentials taken out.
//! - [`address`]: which destination addresses are refused (SSRF).
//! - [`retry`]: what an attempt's outcome means: done, retry when, or give up.
//! - [`overrides`]: Twilio's connection overrides in a URL's fragment
//!   (`#ct=…&rt=…&tt=…&rc=…&rp=…`).
//! - [`digest`]: answering an HTTP Digest challenge (RFC 7616).
//!
//! This crate never opens a socket and never reads the clock.

pub mod address;
pub mod digest;
pub mod overrides;
pub mod request;
pub mod retry;
