//! The trap reporter: what a panic of the static builds tells, one line
//! saying where it happened.
//!
//! The static musl builds abort at a panic without formatting it (the
//! `immediate-abort` panic strategy of .cargo/build-static, 19 KB less on
//! armv7: docs/ARCHITECTURE.md, "Binary size"): the panic is a trap
//! instruction, `udf` on armv7 and `ud2` on x86_64 (SIGILL), `brk #1` on
//! aarch64 (SIGTRAP), and no message. This module owns the handler of those
//! two signals, which main installs first thing in every program (PID 1,
//! every applet). It writes one line, `iocinit: internal error: trap at
//! 0x...`, the address of the trapping instruction (the binaries are not
//! position-independent: the address is the one in the file), which
//! `addr2line` maps to a source line on an unstripped build of the same
//! version. Then it returns, the handler already reset (SA_RESETHAND): the
//! trap runs again with the default action and the process dies by the
//! signal as it did without the reporter (for PID 1, the kernel's
//! "Attempted to kill init").
//!
//! Host builds (panic = "abort") print std's panic message and abort with
//! SIGABRT as before; the reporter is installed there too and tells any
//! other trap the same way.

#![allow(unsafe_code)]

use core::ffi::{c_int, c_void};

/// The two signals of a trap instruction.
const TRAP_SIGNALS: [c_int; 2] = [libc::SIGILL, libc::SIGTRAP];

const BEFORE_ADDRESS: &[u8] = b"iocinit: internal error: trap at 0x";
const AFTER_ADDRESS: &[u8] =
    b" (a bug: please report this line; addr2line -e iocinit.debug of this build names the source line)\n";
/// The address in hex, every digit of a pointer (leading zeros kept).
const ADDRESS_DIGITS: usize = 2 * core::mem::size_of::<usize>();
const LINE_BYTES: usize = BEFORE_ADDRESS.len() + ADDRESS_DIGITS + AFTER_ADDRESS.len();

/// Installs the reporter for SIGILL and SIGTRAP. Neither is blocked
/// anywhere in the program: a blocked trap signal kills at once, with no
/// handler run.
pub fn install() {
    for signal in TRAP_SIGNALS {
        install_for(signal);
    }
}

fn install_for(signal: c_int) {
    // SAFETY: an all-zero sigaction is valid (empty mask, no flags).
    let mut action: libc::sigaction = unsafe { core::mem::zeroed() };
    action.sa_sigaction = report as extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void) as libc::sighandler_t;
    // SA_NODEFER: the signal is not blocked while the handler runs, so that
    // one sent again from it (`pass_on`) meets the default action at once.
    action.sa_flags = libc::SA_SIGINFO | libc::SA_RESETHAND | libc::SA_NODEFER;
    // SAFETY: the handler is async-signal-safe (see `report`).
    unsafe { libc::sigaction(signal, &action, core::ptr::null_mut()) };
}

/// The handler: async-signal-safe, no allocation, no lock, no formatting
/// machinery, the line built on the stack and written in one call per
/// destination (`logging::error_from_signal_handler`).
extern "C" fn report(signal: c_int, info: *mut libc::siginfo_t, _context: *mut c_void) {
    // SAFETY: the kernel hands an SA_SIGINFO handler a valid siginfo.
    let info = unsafe { &*info };
    // A positive code is the kernel's, from a fault (ILL_*, TRAP_*); zero
    // or less is a signal a process sent (kill, sigqueue, tgkill).
    if info.si_code <= 0 {
        pass_on(signal);
        return;
    }
    // SAFETY: a fault's siginfo carries the faulting address.
    let address = unsafe { info.si_addr() } as usize;
    crate::logging::error_from_signal_handler(&trap_line(address));
}

/// A SIGILL or SIGTRAP a process sent: no trap, nothing to report. It is
/// sent again, now to the default action (SA_RESETHAND has put it back),
/// which ends this process as it would have without the reporter. Except
/// PID 1's: the kernel drops a signal sent to init whose action is the
/// default, as it dropped this one before the reporter; then this process
/// lives on, nothing is pending, and the reporter goes back in place for a
/// trap to come.
fn pass_on(signal: c_int) {
    // SAFETY: raise, sigpending and sigismember are async-signal-safe;
    // the set is ours, written by sigpending before it is read.
    unsafe {
        libc::raise(signal);
        let mut pending: libc::sigset_t = core::mem::zeroed();
        if libc::sigpending(&mut pending) == 0 && libc::sigismember(&pending, signal) != 1 {
            install_for(signal);
        }
    }
}

/// The line that reports a trap at `address`.
fn trap_line(address: usize) -> [u8; LINE_BYTES] {
    let mut line = [0; LINE_BYTES];
    let (before, rest) = line.split_at_mut(BEFORE_ADDRESS.len());
    let (digits, after) = rest.split_at_mut(ADDRESS_DIGITS);
    before.copy_from_slice(BEFORE_ADDRESS);
    for (at, digit) in digits.iter_mut().enumerate() {
        let nibble = (address >> (4 * (ADDRESS_DIGITS - 1 - at))) as u8;
        *digit = crate::logging::hex_digit(nibble, false) as u8;
    }
    after.copy_from_slice(AFTER_ADDRESS);
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(address: usize) -> String {
        String::from_utf8(trap_line(address).to_vec()).unwrap()
    }

    #[test]
    fn the_line_names_the_address_in_hex_with_every_digit_of_a_pointer() {
        let zeros = "0".repeat(ADDRESS_DIGITS - 5);
        assert_eq!(
            text(0x1f3a2),
            format!(
                "iocinit: internal error: trap at 0x{zeros}1f3a2 (a bug: please report this line; \
                 addr2line -e iocinit.debug of this build names the source line)\n"
            )
        );
    }

    #[test]
    fn the_address_is_written_whole_from_its_highest_digit_to_its_lowest() {
        assert!(text(usize::MAX).contains(&format!("0x{} ", "f".repeat(ADDRESS_DIGITS))));
        assert!(text(0).contains(&format!("0x{} ", "0".repeat(ADDRESS_DIGITS))));
        let every_digit = 0x0123456789abcdef_u64 as usize;
        assert!(text(every_digit).contains(&format!("0x{every_digit:0width$x} ", width = ADDRESS_DIGITS)));
    }
}
