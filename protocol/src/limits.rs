//! Resource limits of a job, as the client asks for them and the server
//! reports its defaults and maximums.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A full set of limits. Every field applies to one stage (the build stage
/// runs under the server's build limits, the run stage under these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Wall-clock time from start to end of the stage, in milliseconds.
    pub wall_time_ms: u64,
    /// CPU time of all the stage's processes together, in milliseconds.
    pub cpu_time_ms: u64,
    /// Memory of all the job's processes together, including the files it
    /// writes to its working directory and `/tmp`, in bytes.
    pub memory_bytes: u64,
    /// Processes and threads alive at once.
    pub processes: u64,
    /// Bytes the stage may write to stdout and stderr together; past it the
    /// stage is stopped with status `outputLimit`.
    pub output_bytes: u64,
    /// Largest file the program may write, in bytes.
    pub file_size_bytes: u64,
    /// Files a process may have open at once.
    pub open_files: u64,
}

/// Limits a client asks for: any subset, the rest taken from the defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartialLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_time_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_time_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_files: Option<u64>,
}

impl Limits {
    /// The limits as `(wire name, value)` pairs, in declaration order.
    pub fn fields(&self) -> [(&'static str, u64); 7] {
        [
            ("wallTimeMs", self.wall_time_ms),
            ("cpuTimeMs", self.cpu_time_ms),
            ("memoryBytes", self.memory_bytes),
            ("processes", self.processes),
            ("outputBytes", self.output_bytes),
            ("fileSizeBytes", self.file_size_bytes),
            ("openFiles", self.open_files),
        ]
    }
}

impl PartialLimits {
    /// The requested limits as `(wire name, value)` pairs, in declaration order.
    pub fn fields(&self) -> [(&'static str, Option<u64>); 7] {
        [
            ("wallTimeMs", self.wall_time_ms),
            ("cpuTimeMs", self.cpu_time_ms),
            ("memoryBytes", self.memory_bytes),
            ("processes", self.processes),
            ("outputBytes", self.output_bytes),
            ("fileSizeBytes", self.file_size_bytes),
            ("openFiles", self.open_files),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_limits_skip_absent_fields() {
        let p = PartialLimits { wall_time_ms: Some(5), ..Default::default() };
        assert_eq!(serde_json::to_string(&p).unwrap(), r#"{"wallTimeMs":5}"#);
    }

    #[test]
    fn limits_round_trip_exactly() {
        let text = r#"{"wallTimeMs":1,"cpuTimeMs":2,"memoryBytes":3,"processes":4,"outputBytes":5,"fileSizeBytes":6,"openFiles":7}"#;
        let l: Limits = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&l).unwrap(), text);
        assert_eq!(l.fields()[6], ("openFiles", 7));
    }
}
