#![deny(unsafe_code)]
//! iocinit: a tiny, static, event-driven init (PID 1) and EPICS IOC supervisor.
//!
//! One executable, many names (see `main.rs`): as `init` (or PID 1) it boots the
//! board, runs the objects of `/etc/epoch/epoch.conf` and the IOCs of
//! `/etc/procServ.d` under procServ, and shuts down; as `ioc`/`epoch` it is the
//! control CLI; as `halt`/`reboot`/`poweroff`/`shutdown` it asks PID 1 to do so.
//!
//! Modules, one concern each (dependencies point down this list only where noted):
//! - [`config`]: the configuration languages, text in, model out.
//! - [`json`]: the escaping JSON writer behind every `--json`.
//! - [`sys`]: allocation-free system-call wrappers (clocks, /proc, reaping, atomic files).
//! - [`spawn`]: vfork-safe process creation; the only place processes are made.

pub mod config;
pub mod engine;
pub mod ioc;
pub mod json;
pub mod layout;
pub mod logging;
pub mod spawn;
pub mod sys;
