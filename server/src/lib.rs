//! coderun server library.
