//! Which processes belong to an object: the one test behind adopting a
//! SERVICE's daemon, accepting a pid from a pid file, and killing a console
//! object's leftovers.
//!
//! The object marker in the environment (`IOCINIT_OBJECT=<id>`) only finds
//! candidates: any user can start a process carrying it. A pid file names
//! whatever was written into it. A process belongs to object `i` when it
//! carries the marker and
//! - descends from one of the object's tracked processes (its main process,
//!   or a prestart, stop or reload command in flight), following parent
//!   links in /proc; or
//! - descends from a process that was reparented to the supervisor (a
//!   daemon, an orphaned IOC), which itself carries the marker, runs (real
//!   and effective uid) as the user the object's start command runs as, and
//!   started no earlier than the object's current run.
//!
//! A process that is one of the object's own commands in flight (prestart,
//! stop, reload) belongs to it, but is never taken as its process
//! ([`may_follow`]): it is followed as that command, and one pid
//! in two roles would end both at its exit.
//!
//! A parent link cannot be forged, nor a uid chosen, by an unprivileged user;
//! a link whose parent started after its child is a reused pid and ends the
//! walk. Per-object cgroups (cgroup v2) would be stronger still; they are not
//! used: the spawn path does not place children in one.

use super::*;
use super::os::ProcInfo;
use crate::sys::DESCENT_DEPTH;

/// Whether a process, as `info` describes it, may be the object of `plan`'s
/// at all: alive and running as its user. Cheap (nothing more to read), so
/// it filters candidates before [`belongs`] walks their ancestry.
pub(super) fn runs_as_object(plan: &ObjectPlan, info: &ProcInfo) -> bool {
    !info.zombie && info.uid == plan.uid && info.euid == plan.uid
}

/// Whether process `pid` belongs to the object of `plan` and `st` (see the
/// module comment). A chain deeper than [`DESCENT_DEPTH`] is nobody's.
///
/// An ancestor gone before the walk reads it ended meanwhile and was reaped
/// (an orphaned IOC ending, reaped by the supervisor, while its child is
/// looked at): its children had their new parent, the supervisor (or a
/// subreaper above), before it was gone. The walk starts over from `pid`,
/// every check read again, rather than answer "not the object's" for what
/// may be the object's leftover: a process now the supervisor's child is
/// judged as one reparented to it (marker, user, started in this run), as
/// a walk begun a moment later would. Each new start needs one more
/// ancestor to end; after [`DESCENT_DEPTH`] of them the answer is no.
pub(super) fn belongs<O: Os>(os: &mut O, plan: &ObjectPlan, st: &ObjState, pid: Pid) -> bool {
    let tracked = |p: Pid| st.main_pid == Some(p) || st.runs_command(p);
    let me = os.self_pid();
    'walk: for _ in 0..DESCENT_DEPTH {
        let Some(mut info) = os.process(pid).filter(|p| !p.zombie) else { return false };
        if !os.has_marker(pid, &plan.marker) {
            return false;
        }
        let mut cur = pid;
        for _ in 0..DESCENT_DEPTH {
            if tracked(cur) {
                return true;
            }
            if info.ppid == me {
                return runs_as_object(plan, &info)
                    && info.start_ticks >= st.start_ticks
                    && (cur == pid || os.has_marker(cur, &plan.marker));
            }
            // A root, not gone: PID 1 of the host under --local, or a
            // process entered from outside the namespace (parent 0).
            if info.ppid <= 1 {
                return false;
            }
            let Some(parent) = os.process(info.ppid) else { continue 'walk };
            if parent.start_ticks > info.start_ticks {
                return false;
            }
            cur = info.ppid;
            info = parent;
        }
        return false;
    }
    false
}

/// Whether process `pid` (from a pid file, or found in /proc) may be taken
/// as the process of the object of `plan` and `st`: it belongs to the
/// object and is not one of the object's commands in flight.
pub(super) fn may_follow<O: Os>(os: &mut O, plan: &ObjectPlan, st: &ObjState, pid: Pid) -> bool {
    !st.runs_command(pid) && belongs(os, plan, st, pid)
}

impl<O: Os> Engine<O> {
    /// Whether process `pid` belongs to object `i`.
    pub(super) fn owns(&mut self, i: usize, pid: Pid) -> bool {
        belongs(&mut self.os, &self.plans[i], &self.objs[i], pid)
    }

    /// [`may_follow`] for object `i`.
    pub(super) fn may_follow(&mut self, i: usize, pid: Pid) -> bool {
        may_follow(&mut self.os, &self.plans[i], &self.objs[i], pid)
    }
}
