//! The control channel between PID 1 and the CLI: the wire [`protocol`]
//! (shared), the PID-1 [`server`] and the CLI [`client`].

pub mod client;
pub mod protocol;
pub mod server;
