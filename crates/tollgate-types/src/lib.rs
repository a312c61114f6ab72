//! Twilio wire types shared by every Tollgate crate: SIDs, timestamps, account
//! status and the table of error codes.
//!
//! This crate does no I/O, reads no clock and draws no randomness: callers pass
//! random bytes and times in.

pub mod error_code;
pub mod sid;
pub mod status;
pub mod timestamp;

pub use error_code::{ErrorSpec, TOLLGATE_CODES, lookup as lookup_error};
pub use sid::is_sid_of;
pub use sid::{Sid, SidError, SidPrefix};
pub use status::{AccountStatus, ParseStatusError};
pub use timestamp::Timestamp;
