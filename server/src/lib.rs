//! coderun server library.
pub mod config;
pub mod sandbox;
