//! The helper's error: which setup step failed, and the system's reason.
//!
//! The helper has no log of its own; each error becomes one line on its
//! stderr, which the server copies into its log under the job's id.

use std::fmt::Display;
use std::io;

/// A step of the sandbox setup that failed, with the system error.
#[derive(Debug, thiserror::Error)]
#[error("failed to {what}")]
pub struct StepError {
    what: String,
    #[source]
    source: io::Error,
}

impl StepError {
    pub fn new(what: impl Display, source: impl Into<io::Error>) -> StepError {
        StepError { what: what.to_string(), source: source.into() }
    }

    /// The message and its cause on one line, for stderr (the server's log).
    pub fn line(&self) -> String {
        format!("{self}: {}", self.source)
    }
}

/// Attaches the name of a setup step to a system error.
pub trait Step<T> {
    fn step(self, what: impl Display) -> Result<T, StepError>;
}

impl<T, E: Into<io::Error>> Step<T> for Result<T, E> {
    fn step(self, what: impl Display) -> Result<T, StepError> {
        self.map_err(|e| StepError::new(what, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::errno::Errno;

    #[test]
    fn step_errors_name_the_step_and_the_cause() {
        let e = Err::<(), _>(Errno::EPERM).step("bring up lo").unwrap_err();
        assert_eq!(e.to_string(), "failed to bring up lo");
        assert!(e.line().starts_with("failed to bring up lo: "), "{}", e.line());
    }
}
