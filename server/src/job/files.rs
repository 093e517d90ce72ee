//! Validation of a job's files: the paths a student may name and the sizes
//! the server accepts.
//!
//! The server checks here, the runner checks again inside the sandbox, and
//! the sandbox's working directory is a tmpfs of its own; any one of the
//! three would stop a path trick, and all three are kept.

use std::collections::HashSet;

use crate::config::FilesConfig;

/// A validated file of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFile {
    /// A relative, normalised, `/`-separated path.
    pub path: String,
    pub content: Vec<u8>,
}

/// Why a set of files was refused. Each message names the offending path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("file path {0:?} is empty")]
    Empty(String),
    #[error("file path {0:?} is absolute; paths are relative to the working directory")]
    Absolute(String),
    #[error("file path {0:?} contains a `..` segment")]
    ParentSegment(String),
    #[error("file path {0:?} contains an empty or `.` segment")]
    EmptySegment(String),
    #[error("file path {0:?} contains a NUL byte")]
    Nul(String),
    #[error("file path {0:?} contains a backslash; use `/` to separate directories")]
    Backslash(String),
    #[error("file path {0:?} is longer than {1} bytes")]
    TooLong(String, usize),
    #[error("file path {0:?} is more than {1} directories deep")]
    TooDeep(String, usize),
    #[error("file path {0:?} contains a control character")]
    Control(String),
    #[error("file path {0:?} is given twice")]
    Duplicate(String),
    #[error("file path {0:?} is both a file and a directory")]
    FileIsDirectory(String),
    #[error("too many files: {0}, the maximum is {1}")]
    TooMany(usize, usize),
    #[error("the files are {0} bytes together, the maximum is {1}")]
    TooLarge(usize, usize),
    #[error("file {0:?} is not valid base64")]
    Base64(String),
    #[error("no files were given")]
    NoFiles,
}

/// Checks one path against the protocol's rules.
pub fn check_path(path: &str, cfg: &FilesConfig) -> Result<(), FileError> {
    let err = |f: fn(String) -> FileError| Err(f(path.to_owned()));
    if path.is_empty() {
        return err(FileError::Empty);
    }
    if path.contains('\0') {
        return err(FileError::Nul);
    }
    if path.contains('\\') {
        return err(FileError::Backslash);
    }
    if path.chars().any(char::is_control) {
        return err(FileError::Control);
    }
    if path.starts_with('/') {
        return err(FileError::Absolute);
    }
    if path.len() > cfg.max_path_bytes {
        return Err(FileError::TooLong(path.to_owned(), cfg.max_path_bytes));
    }
    let segments: Vec<&str> = path.split('/').collect();
    if segments.len() > cfg.max_depth {
        return Err(FileError::TooDeep(path.to_owned(), cfg.max_depth));
    }
    for s in &segments {
        match *s {
            ".." => return err(FileError::ParentSegment),
            "" | "." => return err(FileError::EmptySegment),
            _ => {}
        }
    }
    Ok(())
}

/// Checks a whole set: each path, duplicates, a file that is also another
/// file's directory, the count and the total size.
pub fn check_set(files: &[JobFile], cfg: &FilesConfig) -> Result<(), FileError> {
    if files.is_empty() {
        return Err(FileError::NoFiles);
    }
    if files.len() > cfg.max_files {
        return Err(FileError::TooMany(files.len(), cfg.max_files));
    }
    let total: usize = files.iter().map(|f| f.content.len()).sum();
    if total > cfg.max_total_bytes {
        return Err(FileError::TooLarge(total, cfg.max_total_bytes));
    }
    let mut seen = HashSet::new();
    for f in files {
        check_path(&f.path, cfg)?;
        if !seen.insert(f.path.as_str()) {
            return Err(FileError::Duplicate(f.path.clone()));
        }
    }
    for f in files {
        let mut dir = f.path.as_str();
        while let Some((parent, _)) = dir.rsplit_once('/') {
            if seen.contains(parent) {
                return Err(FileError::FileIsDirectory(parent.to_owned()));
            }
            dir = parent;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> FilesConfig {
        FilesConfig::default()
    }

    fn file(path: &str, n: usize) -> JobFile {
        JobFile { path: path.into(), content: vec![b'x'; n] }
    }

    #[test]
    fn ordinary_paths_pass() {
        for p in ["main.py", "src/lib/a.rs", "a b.txt", "é/ü.c", ".hidden", "a..b"] {
            check_path(p, &cfg()).unwrap();
        }
    }

    #[test]
    fn path_tricks_are_refused_with_their_reason() {
        let cases: &[(&str, fn(String) -> FileError)] = &[
            ("", FileError::Empty),
            ("/etc/passwd", FileError::Absolute),
            ("../x", FileError::ParentSegment),
            ("a/../../x", FileError::ParentSegment),
            ("a//b", FileError::EmptySegment),
            ("./a", FileError::EmptySegment),
            ("a/./b", FileError::EmptySegment),
            ("a/", FileError::EmptySegment),
            ("a\\b", FileError::Backslash),
            ("a\0b", FileError::Nul),
            ("a\nb", FileError::Control),
        ];
        for (p, want) in cases {
            assert_eq!(check_path(p, &cfg()), Err(want(p.to_string())), "{p:?}");
        }
    }

    #[test]
    fn long_and_deep_paths_are_refused() {
        assert!(matches!(check_path(&"a".repeat(300), &cfg()), Err(FileError::TooLong(..))));
        assert!(matches!(check_path(&["d"; 40].join("/"), &cfg()), Err(FileError::TooDeep(..))));
    }

    #[test]
    fn duplicates_and_file_directory_clashes_are_refused() {
        assert_eq!(check_set(&[file("a", 1), file("a", 1)], &cfg()), Err(FileError::Duplicate("a".into())));
        assert_eq!(check_set(&[file("a", 1), file("a/b", 1)], &cfg()), Err(FileError::FileIsDirectory("a".into())));
    }

    #[test]
    fn counts_and_sizes_are_capped() {
        let many: Vec<JobFile> = (0..65).map(|i| file(&format!("f{i}"), 1)).collect();
        assert!(matches!(check_set(&many, &cfg()), Err(FileError::TooMany(65, 64))));
        assert!(matches!(check_set(&[file("big", 1 << 20)], &cfg()), Err(FileError::TooLarge(..))));
        assert_eq!(check_set(&[], &cfg()), Err(FileError::NoFiles));
    }
}
