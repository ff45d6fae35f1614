//! jwt-authz: an Envoy external authorization (ext_authz gRPC) server that verifies JWTs
//! (HMAC and public-key) with keys hot-reloaded from mounted Kubernetes Secrets or fetched from
//! identity providers, and authorizes requests from their claims.
//!
//! The hot path is pure: [`request::RequestView`] → [`jwt::extract`] / [`jwt::verify`] →
//! [`policy::Policy::select`] → [`authz::Decision`] → `CheckResponse`, all inside
//! [`authz::decide`] and [`authz::build_response`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub(crate) mod admin;
pub mod authz;
pub mod cli;
pub mod commands;
pub mod config;
pub(crate) mod decisions;
pub(crate) mod fsread;
pub(crate) mod health;
pub mod jwt;
pub mod keys;
pub mod net;
pub mod policy;
pub mod providers;
pub mod reason;
pub(crate) mod reload;
pub mod request;
pub mod server;
pub mod state;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod wire;
