//! The HTTP edge: the listener, routes, authentication, wire forms and one
//! handler module per Twilio domain. Imports services, the app and state;
//! nothing below imports it.

pub mod api;
pub mod auth;
pub mod client_validation;
pub mod edge;
pub mod principal;
pub mod routes;
pub mod views;
pub mod wire;
