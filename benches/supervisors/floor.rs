//! The floor: the least a supervisor can do to start and restart the
//! services, measured beside the inits as what the services' own creation
//! and exec cost on this machine. The bench's own executable, exec'd as
//! PID 1 of a namespace with `--floor-init ARG...`, starts `/bin/sleep ARG`
//! for each argument with glibc's `posix_spawn` (clone(CLONE_VM|CLONE_VFORK),
//! a new session, as every init here gives its services, no signal
//! blocked, SIGPIPE at its default, execve) back to back, starts a service again the moment it is
//! reaped, and exits, ending the namespace, on SIGUSR2. Nothing else: no
//! configuration, no log line, no state, no check. Only its times mean
//! something; its memory is the bench's own executable.

use std::ffi::CString;

/// The argument that makes the bench's executable the floor init.
pub const ARG: &str = "--floor-init";

/// Runs the floor init on `args`, the services' arguments; never returns.
pub fn run(args: &[String]) -> ! {
    let program = CString::new("/bin/sleep").unwrap();
    let words: Vec<[CString; 2]> = args.iter().map(|a| [program.clone(), CString::new(a.as_str()).unwrap()]).collect();
    let argvs: Vec<[*mut libc::c_char; 3]> =
        words.iter().map(|[p, a]| [p.as_ptr().cast_mut(), a.as_ptr().cast_mut(), std::ptr::null_mut()]).collect();
    let envp: [*mut libc::c_char; 1] = [std::ptr::null_mut()];
    // SAFETY: plain libc calls on structures of our own, zeroed then
    // initialised by their init functions; the argv and envp arrays are
    // NULL-terminated and outlive every spawn.
    unsafe {
        let mut signals: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut signals);
        libc::sigaddset(&mut signals, libc::SIGCHLD);
        libc::sigaddset(&mut signals, libc::SIGUSR2);
        libc::sigprocmask(libc::SIG_BLOCK, &signals, std::ptr::null_mut());
        let mut attr: libc::posix_spawnattr_t = std::mem::zeroed();
        libc::posix_spawnattr_init(&mut attr);
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::posix_spawnattr_setsigmask(&mut attr, &none);
        // SIGPIPE back to its default, as an init gives its services (Rust's
        // runtime ignores it in the bench's executable).
        let mut pipe: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut pipe);
        libc::sigaddset(&mut pipe, libc::SIGPIPE);
        libc::posix_spawnattr_setsigdefault(&mut attr, &pipe);
        // Each constant is a c_int in some libc versions, a c_short in others.
        #[allow(clippy::unnecessary_cast)]
        let flags = (libc::POSIX_SPAWN_SETSID as libc::c_short)
            | (libc::POSIX_SPAWN_SETSIGMASK as libc::c_short)
            | (libc::POSIX_SPAWN_SETSIGDEF as libc::c_short);
        libc::posix_spawnattr_setflags(&mut attr, flags);
        // A service that cannot be started ends the floor at once, with its
        // cause, rather than leaving the bench to its deadline.
        let spawn = |argv: &[*mut libc::c_char; 3]| {
            let mut pid = 0;
            let error = libc::posix_spawn(&mut pid, program.as_ptr(), std::ptr::null(), &attr, argv.as_ptr(), envp.as_ptr());
            if error != 0 {
                eprintln!("floor init: posix_spawn /bin/sleep: {}", std::io::Error::from_raw_os_error(error));
                libc::_exit(1);
            }
            pid
        };
        let mut pids: Vec<libc::pid_t> = argvs.iter().map(spawn).collect();
        loop {
            if libc::sigwaitinfo(&signals, std::ptr::null_mut()) == libc::SIGUSR2 {
                libc::_exit(0);
            }
            loop {
                let pid = libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG);
                if pid <= 0 {
                    break;
                }
                if let Some(k) = pids.iter().position(|&p| p == pid) {
                    pids[k] = spawn(&argvs[k]);
                }
            }
        }
    }
}
