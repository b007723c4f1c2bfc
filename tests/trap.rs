//! The trap reporter (src/trap.rs) on a real trap: a child process of this
//! test installs it and executes the architecture's trap instruction, the
//! one a panic of the static builds is (`ud2`, `brk #1`, `udf`).

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

/// Set in the child this test starts again: what it is to do.
const CHILD: &str = "IOCINIT_TRAP_TEST_CHILD";

/// Executes the trap instruction a panic of the static builds is, at this
/// function's start.
#[inline(never)]
fn trap_here() {
    // SAFETY: the trap does not return to this code: its signal ends the
    // process (the reporter reset after it has written).
    unsafe {
        #[cfg(target_arch = "x86_64")]
        core::arch::asm!("ud2");
        #[cfg(target_arch = "aarch64")]
        core::arch::asm!("brk #1");
        #[cfg(target_arch = "arm")]
        core::arch::asm!("udf #254");
    }
}

/// This test's binary again, running only `test` with `CHILD` set to `what`.
fn child(test: &str, what: &str) -> std::process::Output {
    Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, what)
        .output()
        .unwrap()
}

/// The signal of a trap instruction on this architecture.
const TRAP_SIGNAL: i32 = if cfg!(target_arch = "aarch64") { libc::SIGTRAP } else { libc::SIGILL };

#[test]
fn a_trap_prints_where_and_the_process_dies_by_its_signal() {
    if std::env::var_os(CHILD).is_some() {
        // No core file of a trap made on purpose.
        let none = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: setrlimit reads the struct.
        unsafe { libc::setrlimit(libc::RLIMIT_CORE, &none) };
        iocinit::trap::install();
        println!("\ntrap_here at {:#x}", trap_here as fn() as usize);
        trap_here();
        unreachable!("the trap returned");
    }
    let out = child("a_trap_prints_where_and_the_process_dies_by_its_signal", "trap");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.signal(), Some(TRAP_SIGNAL), "{stdout}{stderr}");
    let line = stderr.lines().find(|l| l.starts_with("iocinit: internal error: trap at 0x")).unwrap_or_else(|| panic!("no trap line:\n{stderr}"));
    assert!(line.ends_with("(a bug: please report this line; addr2line -e iocinit.debug of this build names the source line)"), "{line}");
    let hex = line.trim_start_matches("iocinit: internal error: trap at 0x").split(' ').next().unwrap();
    assert_eq!(hex.len(), 2 * std::mem::size_of::<usize>(), "every digit of a pointer: {line}");
    let address = usize::from_str_radix(hex, 16).unwrap();
    let function = stdout.lines().find_map(|l| l.strip_prefix("trap_here at 0x")).map(|h| usize::from_str_radix(h, 16).unwrap());
    let function = function.unwrap_or_else(|| panic!("no address of trap_here:\n{stdout}"));
    // The trap is the function's first instructions (a prologue at most before it).
    assert!((function..function + 32).contains(&address), "trap at {address:#x}, function at {function:#x}");
    assert_eq!(stderr.matches("internal error").count(), 1, "told once:\n{stderr}");
}

#[test]
fn a_trap_signal_sent_by_a_process_is_no_trap_and_ends_the_process_as_before() {
    if let Some(signal) = std::env::var_os(CHILD) {
        let signal: i32 = signal.to_str().unwrap().parse().unwrap();
        let none = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: setrlimit reads the struct; raise sends to this thread
        // (the test's, not the process's first), handled before it returns.
        unsafe {
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            iocinit::trap::install();
            libc::raise(signal);
        }
        unreachable!("a SIGILL or SIGTRAP sent ends the process");
    }
    for signal in [libc::SIGILL, libc::SIGTRAP] {
        let out = child("a_trap_signal_sent_by_a_process_is_no_trap_and_ends_the_process_as_before", &signal.to_string());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), Some(signal), "{stderr}");
        assert!(!stderr.contains("trap at"), "a signal sent is no trap:\n{stderr}");
    }
}
