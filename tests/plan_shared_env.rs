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
    let files = MemFs::new().with(MAIN, "DefaultRunlevel default\nObjectID a\nObjectStartCommand /bin/true\nObjectID b\nObjectStartCommand /bin/true b\n");
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
