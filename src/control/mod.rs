//! The control channel between PID 1 and the CLI: the wire [`protocol`]
//! (shared), the PID-1 [`server`] and the CLI [`client`].

pub mod client;
pub mod protocol;
pub mod server;

use std::path::Path;

use nix::sys::socket::UnixAddr;

/// The control socket's address, for the server's bind and the clients'
/// connect. Made of a C string: nix's `UnixAddr::new` converts a `Path`
/// through an instance of its own, with a second for long paths (330 bytes
/// of armv7 code; docs/ARCHITECTURE.md, "Binary size"), and takes a `CStr`
/// as it is. A NUL in the path is EINVAL, as nix's conversion makes it.
fn socket_address(path: &Path) -> nix::Result<UnixAddr> {
    let path = crate::sys::path_c(path).ok_or(nix::errno::Errno::EINVAL)?;
    UnixAddr::new(path.as_c_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_address_is_nixs_of_the_path() {
        let path = Path::new("/run/iocinit/control.sock");
        assert_eq!(socket_address(path).unwrap(), UnixAddr::new(path).unwrap());
        assert_eq!(socket_address(path).unwrap().path(), Some(path));
        assert_eq!(socket_address(Path::new("/run/\0/control.sock")), Err(nix::errno::Errno::EINVAL));
        let long = format!("/{}", "x".repeat(200));
        assert_eq!(socket_address(Path::new(&long)), Err(nix::errno::Errno::ENAMETOOLONG));
        assert_eq!(UnixAddr::new(Path::new(&long)), Err(nix::errno::Errno::ENAMETOOLONG));
    }
}
