//! The errors a request can end in, and the one function that turns them
//! into JSON-RPC error objects.
//!
//! Internal details (a sandbox that failed to start, a runner that broke the
//! protocol) go to the log with the job's id; the client gets a sentence
//! that says what happened to its request, not how the server is built.

use coderun_protocol::{
    error_codes::{self, BusyData, LimitExceededData},
    ResponseError,
};

use crate::job::{driver::JobError, files::FileError};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("method not found: {0}")]
    MethodNotFound(String),
    #[error("invalid params: {0}")]
    InvalidParams(String),
    #[error("the connection is not initialized: send `initialize` first")]
    NotInitialized,
    #[error("unauthorized: a valid token is required")]
    Unauthorized,
    #[error("unknown language {0:?}")]
    UnknownLanguage(String),
    #[error("limit {limit} = {requested} is above the maximum {maximum}")]
    LimitExceeded { limit: &'static str, requested: u64, maximum: u64 },
    #[error("the server is busy: the queue is full")]
    Busy { retry_after_ms: u64 },
    #[error("invalid files: {0}")]
    InvalidFiles(#[from] FileError),
    #[error("too many jobs on this connection: at most {0} at once")]
    TooManyJobs(usize),
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("internal error")]
    Internal(#[from] JobError),
}

/// The one mapping from [`RpcError`] to a JSON-RPC error object.
pub fn to_response_error(e: &RpcError) -> ResponseError {
    use error_codes::{
        BUSY, INTERNAL_ERROR, INVALID_FILES, INVALID_PARAMS, INVALID_REQUEST, LIMIT_EXCEEDED, METHOD_NOT_FOUND,
        NOT_INITIALIZED, TOO_MANY_JOBS, UNAUTHORIZED, UNKNOWN_LANGUAGE,
    };
    match e {
        RpcError::InvalidRequest(_) => ResponseError::new(INVALID_REQUEST, e.to_string()),
        RpcError::MethodNotFound(_) => ResponseError::new(METHOD_NOT_FOUND, e.to_string()),
        RpcError::InvalidParams(_) => ResponseError::new(INVALID_PARAMS, e.to_string()),
        RpcError::NotInitialized => ResponseError::new(NOT_INITIALIZED, e.to_string()),
        RpcError::Unauthorized => ResponseError::new(UNAUTHORIZED, e.to_string()),
        RpcError::UnknownLanguage(_) => ResponseError::new(UNKNOWN_LANGUAGE, e.to_string()),
        RpcError::LimitExceeded { limit, maximum, .. } => ResponseError::new(LIMIT_EXCEEDED, e.to_string())
            .with_data(LimitExceededData { limit: (*limit).to_owned(), maximum: *maximum }),
        RpcError::Busy { retry_after_ms } => {
            ResponseError::new(BUSY, e.to_string()).with_data(BusyData { retry_after_ms: *retry_after_ms })
        }
        RpcError::InvalidFiles(_) => ResponseError::new(INVALID_FILES, e.to_string()),
        RpcError::TooManyJobs(_) => ResponseError::new(TOO_MANY_JOBS, e.to_string()),
        RpcError::ShuttingDown => ResponseError::new(BUSY, e.to_string()).with_data(BusyData { retry_after_ms: 5_000 }),
        RpcError::Internal(inner) => {
            tracing::error!(error = %inner, cause = ?std::error::Error::source(inner), "job failed");
            ResponseError::new(INTERNAL_ERROR, format!("{}; the server's log has details", inner.public_message()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_errors_carry_the_limit_and_maximum() {
        let e = to_response_error(&RpcError::LimitExceeded { limit: "memoryBytes", requested: 9, maximum: 5 });
        assert_eq!(e.code, -32004);
        assert_eq!(e.data, Some(serde_json::json!({"limit": "memoryBytes", "maximum": 5})));
    }

    #[test]
    fn busy_errors_carry_a_retry_hint() {
        let e = to_response_error(&RpcError::Busy { retry_after_ms: 1500 });
        assert_eq!(e.code, -32005);
        assert_eq!(e.data, Some(serde_json::json!({"retryAfterMs": 1500})));
    }

    #[test]
    fn internal_errors_hide_details() {
        let e = to_response_error(&RpcError::Internal(JobError::Runner("secret path /srv/x".into())));
        assert_eq!(e.code, -32603);
        assert!(!e.message.contains("/srv"));
    }
}
