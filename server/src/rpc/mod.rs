//! The JSON-RPC layer: the WebSocket session loop, the one-shot HTTP
//! binding, the method handlers, and the mapping of errors and domain types
//! to wire types. Wire types stop here.

pub mod convert;
pub mod errors;
pub mod handlers;
pub mod jobs;
pub mod oneshot;
pub mod session;
