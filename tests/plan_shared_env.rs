//! PID 1 keeps each object's commands for its whole life, and the base
//! environment every command starts with (PATH, HOME, TERM) is one shared
//! copy that each command points to, not a copy in each
//! (docs/ARCHITECTURE.md, "PID 1's memory, page by page"). A test binary of
//! its own: a process shares the first base environment it builds plans
//! with, and the library's tests build plans for several layouts.

use std::path::Path;

use iocinit::config::{load_with, LoadOptions, MemFs};
use iocinit::engine::plan;
use iocinit::layout::Layout;

const MAIN: &str = "/etc/epoch/epoch.conf";

#[test]
fn every_command_points_to_one_copy_of_the_base_environment() {
    // With an IOC, as the other test: whichever builds first sets what is
    // shared, procServ's words only when there is an IOC.
    let files = MemFs::new()
        .with(MAIN, "DefaultRunlevel default\nIocGroup root\nObjectID a\nObjectStartCommand /bin/true\nObjectID b\nObjectStartCommand /bin/true b\n")
        .with("/etc/procServ.d/c.conf", "IOC_NAME=c\nIOC_CMD=./st.cmd\n");
    let loaded = load_with(&files, Path::new(MAIN), &LoadOptions::default());
    let config = loaded.config.unwrap_or_else(|| panic!("{:?}", loaded.diagnostics));
    let layout = Layout::system();
    let (plans, problems) = plan::build(&config, &layout);
    assert!(problems.is_empty(), "{problems:?}");
    let base = plan::base_env(&layout);
    // Each command's envp: the base entries first, then its marker.
    let envp = |k: usize| plans[k].start.as_ref().expect("a start command").env().map(|e| (e.as_ptr(), e.to_str().unwrap().to_string())).collect::<Vec<_>>();
    let (a, b) = (envp(0), envp(1));
    assert_eq!(a.iter().take(base.len()).map(|(_, e)| e).collect::<Vec<_>>(), base.iter().collect::<Vec<_>>());
    assert_eq!(a[..base.len()], b[..base.len()], "the same entries at the same addresses");
    assert_eq!((a[base.len()].1.as_str(), b[base.len()].1.as_str()), ("IOCINIT_OBJECT=a", "IOCINIT_OBJECT=b"));
    // A reload's plans point to the same copy.
    let (again, _) = plan::build(&config, &layout);
    let reloaded = again[0].start.as_ref().expect("a start command").env().map(|e| e.as_ptr()).collect::<Vec<_>>();
    assert_eq!(reloaded[..base.len()], a[..base.len()].iter().map(|(p, _)| *p).collect::<Vec<_>>()[..]);
}

/// And every IOC's procServ command points to one copy of what all of them
/// hold: the paths where procServ is looked for and procServ's options; only
/// the IOC's own name, paths and command are its own.
#[test]
fn every_procserv_command_points_to_one_copy_of_its_fixed_words() {
    let files = MemFs::new()
        .with(MAIN, "DefaultRunlevel default\nIocGroup root\n")
        .with("/etc/procServ.d/a.conf", "IOC_NAME=a\nIOC_CMD=./st.cmd\n")
        .with("/etc/procServ.d/b.conf", "IOC_NAME=b\nIOC_CMD=./st.cmd\n");
    let loaded = load_with(&files, Path::new(MAIN), &LoadOptions::default());
    let config = loaded.config.unwrap_or_else(|| panic!("{:?}", loaded.diagnostics));
    let (plans, _) = plan::build(&config, &Layout::system());
    let words = |k: usize| {
        let start = plans[k].start.as_ref().expect("a procServ command");
        let argv: Vec<_> = start.argv().map(|w| (w.as_ptr(), w.to_str().unwrap().to_string())).collect();
        (start.path().as_ptr(), argv)
    };
    let ((path_a, a), (path_b, b)) = (words(0), words(1));
    assert_eq!(path_a, path_b, "the same candidate path at the same address");
    let shared: Vec<&str> = a.iter().zip(&b).filter(|(x, y)| x == y).map(|(x, _)| x.1.as_str()).collect();
    // Not the IOC command: the same text, each IOC's own copy.
    assert_eq!(shared, ["procServ", "-f", "--name", "--logfile", "--info-file", "--ignore", "^D^C^]", "--autorestartcmd", "", "--holdoff", "2", "-P"]);
}
