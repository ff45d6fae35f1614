//! jwt-authz: an Envoy external authorization (ext_authz gRPC) server that verifies
//! HMAC-signed JWTs with keys hot-reloaded from a mounted Kubernetes Secret and authorizes
//! requests from their claims.
//!
//! The hot path is pure: [`request::RequestView`] → [`jwt::extract`] / [`jwt::verify`] →
//! [`policy::Policy::select`] → [`authz::Decision`] → `CheckResponse`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod jwt;
pub mod keys;
pub mod policy;
pub mod reason;
pub mod request;
pub mod testing;
