//! The ext_authz adapter: the pure decision ([`decide`]), the response builder, and the tonic
//! service that ties them to the gRPC API.

mod check;
mod grpc;
mod prost_sink;
mod response;
mod service;
mod shed;
mod stalls;
mod unary;
mod wire_out;

#[cfg(test)]
mod tests;

pub use check::{decide, decide_with, Allow, AllowKind, Decision, Deny, Unavailable};
pub use grpc::{AnswerBytes, CheckServer, CHECK_PATH};
pub use response::{
    build as build_response, build_explained, encode as encode_response, Omitted, REASON_HEADER,
};
pub use service::{unix_now, AuthzService, MayWait, Wait, ANSWER_MARGIN};
pub use shed::{Shed, ShedFuture};
pub use stalls::Stalls;
pub use unary::Budget;
