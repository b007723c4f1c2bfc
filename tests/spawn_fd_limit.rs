//! A spawn needs no descriptor of its own once a spawn has seen that the
//! children share the supervisor's memory (a real vfork): the failure word
//! is read from that memory, not from a pipe made per spawn (src/spawn.rs,
//! `VFORK_SHARES_MEMORY`). So a supervisor at its RLIMIT_NOFILE still
//! starts and restarts a service whose standard streams it passes on (one
//! sent to /dev/null or a file needs a descriptor for each stream, opened
//! before the clone). A test binary of its own: the limit is the whole
//! process's, and would fail other tests running beside it.

use iocinit::spawn::{spawn, Command, Options, Stage};

fn wait(pid: i32) -> i32 {
    let mut status = 0;
    // SAFETY: waitpid on our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    status
}

fn nofile() -> libc::rlimit {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into our struct.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }, 0);
    limit
}

fn set_nofile(limit: &libc::rlimit) {
    // SAFETY: setrlimit reads our struct; lowering the soft limit is always allowed.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, limit) }, 0);
}

#[test]
fn a_process_at_its_descriptor_limit_still_spawns() {
    let env = vec!["PATH=/usr/bin:/bin".to_string()];
    // A static program that opens nothing (busybox-static, which
    // tests/support/install-engine-deps installs): the child inherits the
    // limit, and a dynamic one could not load its libraries under it.
    let cmd = Command::new(&["busybox", "true"], &env).unwrap();
    // The first spawn learns that its child shares this process's memory.
    assert_eq!(wait(spawn(&cmd, &Options::default()).unwrap()), 0);
    if !iocinit::spawn::children_share_memory() {
        // Under qemu-user a vfork is a fork: every spawn keeps its pipe,
        // by design, and needs a descriptor.
        eprintln!("skipped: the children do not share this process's memory (qemu-user?)");
        return;
    }

    // Every descriptor below the lowest free one is in use: with the limit
    // there, no new one can be opened.
    let lowest_free = std::fs::File::open("/dev/null").map(|f| std::os::fd::AsRawFd::as_raw_fd(&f)).unwrap();
    let old = nofile();
    set_nofile(&libc::rlimit { rlim_cur: lowest_free as libc::rlim_t, rlim_max: old.rlim_max });
    let no_descriptor_left = std::fs::File::open("/dev/null").is_err();
    let spawned = spawn(&cmd, &Options::default());
    // A failure is still told, from memory.
    let missing = Command::from_line("/nonexistent/iocinit-test-program", false, &env).unwrap();
    let failed = spawn(&missing, &Options::default());
    set_nofile(&old);

    assert!(no_descriptor_left, "the limit did not hold");
    assert_eq!(wait(spawned.expect("a spawn at the descriptor limit")), 0);
    let err = failed.unwrap_err();
    assert_eq!((err.stage, err.errno), (Stage::Exec, libc::ENOENT));
}
