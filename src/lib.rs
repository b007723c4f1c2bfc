#![deny(unsafe_code)]
//! iocinit: a tiny, static, event-driven init (PID 1) and EPICS IOC supervisor.
//!
//! One executable, many names (see `main.rs`): as `init` (or PID 1) it boots the
//! board, runs the objects of `/etc/epoch/epoch.conf` and the IOCs of
//! `/etc/procServ.d` under procServ, and shuts down; as `ioc`/`epoch` it is the
//! control CLI; as `halt`/`reboot`/`poweroff`/`shutdown` it asks PID 1 to do so.
//!
//! Modules, one concern each; arrows point one way (down this list):
//! - [`cli`]: the command-line front ends (`ioc`, `epoch` verbs, power applets,
//!   `check-config`); they use the control client and the formatting only.
//! - [`daemon`]: the event loop shared by PID 1 and `--local`.
//! - [`pid1`]: what only PID 1 does (mounts, console, emergency shell, reboot(2)).
//! - [`reexec`]: handing the running state to a new image of the supervisor.
//! - [`control`]: the control protocol, its server (PID 1) and client (CLI).
//! - [`engine`]: object lifecycles, runlevels, boot and shutdown sequencing.
//! - [`ioc`]: procServ command lines; console client, socket inspection, `ioc list`.
//! - [`config`]: the configuration languages, text in, model out.
//! - [`layout`]: where sockets, state and logs live (PID 1 and `--local`).
//! - [`spawn`]: vfork-safe process creation; the only place processes are made.
//! - [`statedir`]: making an IOC's state directory, in a process of its own.
//! - [`sys`]: allocation-free system-call wrappers (clocks, /proc, reaping, atomic files).
//! - [`accounts`]: users and groups by name or number, a user's groups.
//! - [`files`]: whole files read into memory by path.
//! - [`logging`]: the console / kmsg / system log backend of the `log` facade.
//! - [`json`]: the escaping JSON writer behind every `--json`.
//! - [`trap`]: the line a trap (a panic of the static builds) writes: where.
//! - [`alloc_count`]: the counting allocator of the `alloc-count` test feature.

pub mod accounts;
pub mod alloc_count;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod control;
pub mod engine;
pub mod files;
pub mod ioc;
pub mod json;
pub mod layout;
pub mod logging;
pub mod pid1;
pub mod reexec;
#[cfg(test)]
mod scratch;
pub mod spawn;
pub mod statedir;
pub mod sys;
pub mod trap;
