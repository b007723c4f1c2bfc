//! The command-line front ends. Each verb is a module with a `run` function
//! returning the process exit code; `main.rs` maps argv to them.

pub mod check_config;
