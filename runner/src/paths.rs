//! Lexical checks of the relative paths the host names: files to write and
//! a stage's working directory.
//!
//! The server validates paths before they reach the wire; the runner checks
//! them again because it is the one that touches the file system, often as
//! root of its namespace. These checks are purely lexical; `files.rs` adds
//! the file-system half (never following a symbolic link).

use std::path::PathBuf;

/// Longest path accepted, in bytes (Linux's `PATH_MAX` less the terminator).
const MAX_PATH_BYTES: usize = 4095;
/// Longest single path segment, in bytes (Linux's `NAME_MAX`).
const MAX_SEGMENT_BYTES: usize = 255;

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path is empty")]
    Empty,
    #[error("path is absolute")]
    Absolute,
    #[error("path contains a NUL byte")]
    Nul,
    #[error("path contains a backslash")]
    Backslash,
    #[error("path has an empty, `.` or `..` segment")]
    BadSegment,
    #[error("path is too long")]
    TooLong,
}

/// Splits a file path into its segments, refusing anything that could name
/// a place outside the working directory or is ambiguous: absolute paths,
/// `..`, `.`, empty segments (`a//b`, a trailing `/`), NUL and backslash.
pub fn file_segments(path: &str) -> Result<Vec<&str>, PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(PathError::TooLong);
    }
    if path.starts_with('/') {
        return Err(PathError::Absolute);
    }
    if path.contains('\0') {
        return Err(PathError::Nul);
    }
    if path.contains('\\') {
        return Err(PathError::Backslash);
    }
    let segments: Vec<&str> = path.split('/').collect();
    for s in &segments {
        if s.is_empty() || *s == "." || *s == ".." {
            return Err(PathError::BadSegment);
        }
        if s.len() > MAX_SEGMENT_BYTES {
            return Err(PathError::TooLong);
        }
    }
    Ok(segments)
}

/// The directory a stage runs in, relative to the runner's working
/// directory. `""` and `"."` name the working directory itself; anything
/// else must pass [`file_segments`].
pub fn stage_cwd(cwd: &str) -> Result<PathBuf, PathError> {
    if cwd.is_empty() || cwd == "." {
        return Ok(PathBuf::from("."));
    }
    file_segments(cwd)?;
    Ok(PathBuf::from(cwd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_relative_paths_are_split() {
        assert_eq!(file_segments("main.py").unwrap(), vec!["main.py"]);
        assert_eq!(file_segments("src/a/b.rs").unwrap(), vec!["src", "a", "b.rs"]);
        assert_eq!(file_segments(".hidden/..x").unwrap(), vec![".hidden", "..x"]);
    }

    #[test]
    fn escaping_and_ambiguous_paths_are_refused() {
        assert_eq!(file_segments(""), Err(PathError::Empty));
        assert_eq!(file_segments("/etc/passwd"), Err(PathError::Absolute));
        assert_eq!(file_segments("../x"), Err(PathError::BadSegment));
        assert_eq!(file_segments("a/../../x"), Err(PathError::BadSegment));
        assert_eq!(file_segments("a/./b"), Err(PathError::BadSegment));
        assert_eq!(file_segments("a//b"), Err(PathError::BadSegment));
        assert_eq!(file_segments("a/"), Err(PathError::BadSegment));
        assert_eq!(file_segments("."), Err(PathError::BadSegment));
        assert_eq!(file_segments("a\0b"), Err(PathError::Nul));
        assert_eq!(file_segments("a\\..\\b"), Err(PathError::Backslash));
        assert_eq!(file_segments(&"x".repeat(256)), Err(PathError::TooLong));
        assert_eq!(file_segments(&"a/".repeat(2048)), Err(PathError::TooLong));
    }

    #[test]
    fn stage_cwd_accepts_the_working_directory_itself() {
        assert_eq!(stage_cwd("").unwrap(), PathBuf::from("."));
        assert_eq!(stage_cwd(".").unwrap(), PathBuf::from("."));
        assert_eq!(stage_cwd("build/out").unwrap(), PathBuf::from("build/out"));
        assert_eq!(stage_cwd("../up"), Err(PathError::BadSegment));
        assert_eq!(stage_cwd("/tmp"), Err(PathError::Absolute));
    }
}
