//! Per-object transitions of the engine: starting (prestart, start command,
//! FORK/SERVICE/PIDFILE tracking), the results of a start, the death of a
//! tracked process (ending what it left in its process group first),
//! AUTORESTART backoff, stopping by every stop method with escalation to
//! SIGKILL, and the leftovers of console objects. Every state change of an
//! object happens here or in the verbs of `mod.rs`, through `ObjState::set`.

use super::*;

impl<O: Os> Engine<O> {
    pub(super) fn begin_start(&mut self, i: usize, cause: Cause) -> Result<(), Refusal> {
        let start_limit = self.start_timeout_s(i).map(|s| self.os.now_ms() + u64::from(s) * 1000);
        let object = configured_object(&self.config, i);
        let st = &mut self.objs[i];
        if st.removed {
            return Err(Refusal::Removed);
        }
        if object.options.halt_only {
            return Err(Refusal::HaltOnly);
        }
        match st.state {
            State::Stopping => return Err(Refusal::Busy),
            s if s.is_down() || s == State::Restarting => {}
            _ => return Err(Refusal::AlreadyStarted),
        }
        // IOC_HOST: one IOC directory serves a rack of boards; the others'
        // IOCs stay down, and say why (the reply to a start is this note).
        if let Some(host) = &object.rare().host {
            let here = self.os.host_name();
            if !host.eq_ignore_ascii_case(&here) {
                st.wanted = false;
                st.outcome = Some(Outcome::Fail);
                self.notes.write(i, format_args!("not started: IOC_HOST is {host}, this host is {here}"));
                crate::logging::info!("{}: {}", object.id, self.notes.get(i));
                return Ok(());
            }
        }
        st.cause = cause;
        st.wanted = true;
        st.prestart_failed = false;
        st.killed = false;
        st.outcome = None;
        self.notes.clear(i);
        st.start_limit = start_limit;
        // Never two IOCs of one name: whatever is left of a previous procServ
        // and its IOC goes first. Leftovers that will not die are tried
        // again with a growing delay.
        if object.console.is_some() && self.kill_leftovers(i) > 0 {
            let now = self.os.now_ms();
            let st = &mut self.objs[i];
            st.set(State::Restarting);
            self.notes.write(i, format_args!("waiting for processes of the previous run to end"));
            st.deadline = Some(now + leftover_wait_ms(st.leftover_rounds));
            return Ok(());
        }
        // A new run: nothing reparented that started before this moment is
        // its (read from the boot clock, not from /proc per process started).
        self.objs[i].start_ticks = self.os.boot_ticks();
        // IOC_STATE_DIR: made by a process of its own (a path may hang).
        if let Some(cmd) = &self.plans[i].state_dir {
            match self.os.spawn(cmd, &root_options(&self.plans[i])) {
                Ok(pid) => {
                    let st = &mut self.objs[i];
                    st.helper = Some((Helper::StateDir, pid));
                    st.set(State::Prestarting);
                }
                Err(e) => self.start_failed(i, format_args!("state directory: {e}")),
            }
            return Ok(());
        }
        self.prestart_or_launch(i);
        Ok(())
    }

    /// Runs the prestart command, whose end launches the start command, or
    /// launches it now when there is none.
    fn prestart_or_launch(&mut self, i: usize) {
        if let Some(cmd) = &self.plans[i].prestart {
            match self.os.spawn(cmd, &root_options(&self.plans[i])) {
                Ok(pid) => {
                    let st = &mut self.objs[i];
                    st.helper = Some((Helper::Prestart, pid));
                    st.set(State::Prestarting);
                    return;
                }
                Err(e) => {
                    crate::logging::warn!("{}: prestart command: {e}", configured_object(&self.config, i).id);
                    self.objs[i].prestart_failed = true;
                }
            }
        }
        self.launch(i);
    }

    /// Runs the start command itself.
    pub(super) fn launch(&mut self, i: usize) {
        let object = configured_object(&self.config, i);
        let plan = &self.plans[i];
        if let Some(problem) = &plan.start_problem {
            self.notes.write(i, format_args!("{problem}"));
            self.start_failed_as_noted(i);
            return;
        }
        if let Some((new_root, put_old)) = plan.pivot.as_deref() {
            let result = self.os.pivot_root(new_root, put_old);
            match result {
                Ok(()) => {
                    self.objs[i].set(State::Done);
                    self.start_succeeded(i);
                }
                Err(e) => self.start_failed(i, format_args!("pivot_root: {}", crate::sys::errno_text(e))),
            }
            return;
        }
        let Some(cmd) = &plan.start else {
            self.start_failed(i, format_args!("no start command"));
            return;
        };
        if object.options.exec {
            let e = self.os.exec(cmd);
            self.start_failed(i, format_args!("exec: {}", crate::sys::errno_text(e)));
            return;
        }
        if let Some(c) = &plan.console {
            if let Err(refused) = self.os.prepare_console(c) {
                let path = match refused.part {
                    os::ConsolePart::LogDirectory => c.log_dir(),
                    os::ConsolePart::Directory => c.dir(),
                    os::ConsolePart::Log => c.log(),
                };
                self.notes.write(i, format_args!("{} {}: {}", refused.part.name(), path.to_str().unwrap_or("?"), refused.problem));
                self.start_failed_as_noted(i);
                return;
            }
        }
        // A pid file left from an earlier run (boot pids repeat on a board)
        // would name someone else's process.
        if let (Some(pid_file), None) = (&plan.pid_file, &plan.console) {
            self.os.remove_pid_file(pid_file);
        }
        let (out, err) = (redirect(&plan.stdout), redirect(&plan.stderr));
        let opts = spawn::Options {
            credentials: plan.credentials(),
            process: plan.process.as_deref(),
            stdin: if plan.stdin_null { Redirect::Null } else { Redirect::Inherit },
            stdout: out,
            stderr: err,
            ..Default::default()
        };
        let pid = match self.os.spawn(cmd, &opts) {
            Ok(pid) => pid,
            Err(e) => {
                // Name what could not be opened or run.
                let what = match e.stage {
                    spawn::Stage::Redirect => "ObjectStdout/ObjectStderr",
                    _ => cmd.path().to_str().unwrap_or("?"),
                };
                self.notes.write(i, format_args!("{e}: {what}"));
                self.start_failed_as_noted(i);
                return;
            }
        };
        let o = &object.options;
        let now = self.os.now_ms();
        let wall = self.os.wall_secs();
        let st = &mut self.objs[i];
        st.since_ms = now;
        st.since_wall = wall;
        if object.console.is_some() || (o.fork && !o.no_track) {
            st.main_pid = Some(pid);
            if plan.pid_file.is_some() && object.console.is_none() {
                self.wait_pid_file(i);
            } else {
                self.objs[i].set(State::Running);
                self.start_succeeded(i);
            }
        } else if o.fork && o.no_track {
            // Not followed from its launch; found afterwards, if at all. Just
            // spawned, it may still be inside its execve, where /proc shows
            // no environment (no marker): if it is not found at once, it is
            // looked for again as a SERVICE's daemon is (`look_for_daemon`).
            if self.untracked_process(i).is_some() {
                self.track_after_start(i);
            } else {
                let st = &mut self.objs[i];
                st.set(State::Starting);
                st.pidfile_limit = now + SERVICE_WAIT_MS;
                st.deadline = Some(now + SERVICE_POLL_MS);
            }
        } else if o.forkn {
            // Started, not followed.
            self.objs[i].set(State::Done);
            self.start_succeeded(i);
        } else {
            st.main_pid = Some(pid);
            st.set(State::Starting);
        }
    }

    /// The start timeout of object `i` in seconds; `None`: it has none.
    pub(super) fn start_timeout_s(&self, i: usize) -> Option<u32> {
        let configured = configured_object(&self.config, i).options.start_timeout.or(self.config.globals.start_timeout);
        Some(configured.unwrap_or(DEFAULT_START_TIMEOUT_S)).filter(|&s| s > 0)
    }

    /// The start took longer than its start timeout: it is abandoned.
    pub(super) fn start_timed_out(&mut self, i: usize) {
        let secs = self.start_timeout_s(i).unwrap_or(0);
        let st = &mut self.objs[i];
        st.start_limit = None;
        if st.state.is_starting() {
            self.abandon_start(i, format_args!("did not start within {secs} s"));
        }
    }

    /// A start ran out of time (the start timeout): what runs for it (the
    /// prestart or start command, or the process, with their process
    /// groups) is stopped as a stop would, TERMSIGNAL then SIGKILL after
    /// STOPTIMEOUT, and once it is gone the start fails with `why` (see
    /// `finish_stop`).
    fn abandon_start(&mut self, i: usize, why: core::fmt::Arguments<'_>) {
        let st = &mut self.objs[i];
        st.start_timed_out = true;
        st.outcome = Some(Outcome::Fail);
        self.notes.write(i, why);
        crate::logging::error!("{}: {}; stopping it", configured_object(&self.config, i).id, self.notes.get(i));
        let term = self.enter_stopping(i);
        let st = &self.objs[i];
        for pid in st.main_pid.into_iter().chain(st.side_commands()) {
            let _ = self.os.kill_group(pid, term);
        }
        self.maybe_finish_stop(i);
    }

    /// Enters Stopping with the STOPTIMEOUT deadline after which
    /// `object_deadline` sends SIGKILL (a stop, an abandoned start, a dead
    /// process's group); returns the object's TERMSIGNAL.
    fn enter_stopping(&mut self, i: usize) -> i32 {
        let deadline = self.stop_timeout_deadline(i);
        let st = &mut self.objs[i];
        st.killed = false;
        st.set(State::Stopping);
        st.deadline = Some(deadline);
        configured_object(&self.config, i).options.term_signal.unwrap_or(libc::SIGTERM)
    }

    /// When STOPTIMEOUT, counted from now, runs out for object `i`.
    fn stop_timeout_deadline(&self, i: usize) -> u64 {
        let secs = configured_object(&self.config, i).options.stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT_S);
        self.os.now_ms() + u64::from(secs) * 1000
    }

    /// `StopCommandTimeout` in seconds; `None`: stop commands run as long
    /// as they take.
    fn stop_command_timeout_s(&self) -> Option<u32> {
        Some(self.config.globals.stop_command_timeout.unwrap_or(DEFAULT_STOP_COMMAND_TIMEOUT_S)).filter(|&s| s > 0)
    }

    pub(super) fn wait_pid_file(&mut self, i: usize) {
        let now = self.os.now_ms();
        let wait = self.pid_file_wait_ms();
        let st = &mut self.objs[i];
        st.set(State::WaitPidFile);
        st.pidfile_limit = now + wait;
        st.deadline = Some(now + wait.min(50));
    }

    /// How long a start waits for ObjectPIDFile (global `PIDFileTimeout`).
    fn pid_file_wait_ms(&self) -> u64 {
        u64::from(self.config.globals.pid_file_timeout.unwrap_or(DEFAULT_PIDFILE_TIMEOUT_S)) * 1000
    }

    /// NOTRACK: the start is complete without following what it launched;
    /// the object's process is looked for now (and again when it is
    /// stopped, `begin_stop`): Running when one is found, else Done.
    fn track_after_start(&mut self, i: usize) {
        let found = self.untracked_process(i);
        let st = &mut self.objs[i];
        st.main_pid = found;
        st.set(if found.is_some() { State::Running } else { State::Done });
        self.start_succeeded(i);
    }

    /// The process of an object that follows none (NOTRACK, or a pid file
    /// that was not there in time): the one ObjectPIDFile names, if it is
    /// the object's, else one found in /proc (module `ownership`).
    fn untracked_process(&mut self, i: usize) -> Option<Pid> {
        let named = self.plans[i].pid_file.as_ref().and_then(|p| self.os.read_pid_file(p));
        named.filter(|&pid| self.may_follow(i, pid)).or_else(|| self.find_daemon(i))
    }

    /// A start completed (the object is Running or Done): report it. A
    /// failed prestart or a start command mapped to WARNING makes it a warning.
    pub(super) fn start_succeeded(&mut self, i: usize) {
        let st = &mut self.objs[i];
        let outcome = if st.prestart_failed || st.outcome == Some(Outcome::Warn) { Outcome::Warn } else { Outcome::Done };
        st.outcome = Some(outcome);
        self.report(i, "Starting", outcome);
        // RUNONCE: disabled after its first automatic start (boot, runlevel
        // change, a retry); a manual start of a re-enabled object is the user's.
        if configured_object(&self.config, i).options.runonce && self.objs[i].cause != Cause::Manual {
            self.objs[i].enabled = false;
            self.save_state();
        }
    }

    /// A start failed for `why`: it becomes the object's note.
    pub(super) fn start_failed(&mut self, i: usize, why: core::fmt::Arguments<'_>) {
        self.notes.write(i, why);
        self.start_failed_as_noted(i);
    }

    /// A start failed for the reason object i's note says: a caller whose
    /// reason borrows from the engine (a plan's problem, a path of the
    /// configuration) writes the note itself, with no copy of it to hand over.
    fn start_failed_as_noted(&mut self, i: usize) {
        let st = &mut self.objs[i];
        st.main_pid = None;
        st.outcome = Some(Outcome::Fail);
        crate::logging::error!("{}: {}", configured_object(&self.config, i).id, self.notes.get(i));
        self.report(i, "Starting", Outcome::Fail);
        // (A start that timed out may end during a shutdown: nothing pauses that.)
        let shutting_down = matches!(self.phase, Phase::ShuttingDown(_));
        let critical = configured_object(&self.config, i).options.start_fail_critical && self.objs[i].cause == Cause::Boot && !shutting_down;
        // RUNONCE stays enabled: a failed first-boot job runs again next boot.
        self.after_failure(i);
        if critical {
            let note = object::note(format_args!("{} failed to start (STARTFAILCRITICAL)", configured_object(&self.config, i).id));
            self.paused = true;
            let _ = self.requests.push_back(SystemRequest::Emergency(note));
        }
    }

    /// A start failed or a process died: restart (AUTORESTART), or rest.
    pub(super) fn after_failure(&mut self, i: usize) {
        let now = self.os.now_ms();
        let globals = &self.config.globals;
        let fast_failure_ms = u64::from(globals.restart_fast_failure.unwrap_or(DEFAULT_FAST_FAILURE_S)) * 1000;
        let crash_limit = globals.restart_crash_limit.unwrap_or(DEFAULT_CRASH_LIMIT);
        let object = configured_object(&self.config, i);
        let st = &mut self.objs[i];
        let shutting_down = matches!(self.phase, Phase::ShuttingDown(_));
        if !(object.options.autorestart && st.wanted) || shutting_down || st.removed {
            let clean = st.last_exit.is_some_and(|e| e.success()) && st.outcome != Some(Outcome::Fail);
            st.set(if clean { State::Stopped } else { State::Failed });
            return;
        }
        let ran = now.saturating_sub(st.since_ms);
        if ran >= fast_failure_ms && st.outcome != Some(Outcome::Fail) {
            st.fast_failures = 0;
        } else {
            st.fast_failures += 1;
        }
        if st.fast_failures >= crash_limit {
            st.set(State::Crashed);
            self.notes.write(i, format_args!("crashed: {crash_limit} failures in a row, not restarted"));
            crate::logging::error!("{}: {}", object.id, self.notes.get(i));
            return;
        }
        st.restarts += 1;
        let delay = backoff_ms(st.fast_failures);
        st.cause = Cause::AutoRestart;
        if delay == 0 {
            st.set(State::Stopped);
            let _ = self.begin_start(i, Cause::AutoRestart);
        } else {
            crate::logging::warn!("{}: restarting in {} ms", object.id, delay);
            st.set(State::Restarting);
            st.deadline = Some(now + delay);
        }
    }

    pub(super) fn main_exited(&mut self, i: usize, status: ExitStatus) {
        let st = &mut self.objs[i];
        let leader = st.main_pid.take();
        st.last_exit = Some(status);
        match st.state {
            State::Starting => {
                let result = match status {
                    ExitStatus::Exited(code) => configured_object(&self.config, i).exit_result(code),
                    ExitStatus::Signaled(_) => ExitResult::Failure,
                };
                match result {
                    // The trampoline's status (see spawn), its stderr has the reason.
                    ExitResult::Failure if status == ExitStatus::Exited(spawn::EXIT_CHDIR_FAILED) && self.plans[i].cwd.is_some() => {
                        self.start_failed(i, format_args!("unable to change directory ({status})"))
                    }
                    ExitResult::Failure => self.start_failed(i, format_args!("start command: {status}")),
                    ExitResult::Success | ExitResult::Warning => {
                        let st = &mut self.objs[i];
                        st.outcome = Some(if result == ExitResult::Warning { Outcome::Warn } else { Outcome::Done });
                        self.command_finished(i);
                    }
                }
            }
            State::Stopping => {
                if let Some(pid) = leader {
                    self.follow_group(i, pid);
                }
                self.maybe_finish_stop(i);
            }
            State::Running | State::WaitPidFile => {
                let object = configured_object(&self.config, i);
                let o = &object.options;
                // A classic double-forking daemon may have been caught as its
                // intermediate process (SERVICE, or found after a NOTRACK
                // start); when that one exits, the daemon itself is still
                // there: follow it instead.
                let found_late = o.no_track || (o.service && self.plans[i].pid_file.is_none());
                if found_late && object.console.is_none() {
                    if let Some(daemon) = self.untracked_process(i) {
                        crate::logging::debug!("{}: now following pid {daemon}", configured_object(&self.config, i).id);
                        self.objs[i].main_pid = Some(daemon);
                        return;
                    }
                }
                let object = configured_object(&self.config, i);
                crate::logging::warn!("{}: process exited ({status})", object.id);
                match leader {
                    // What is left in the group is ended as in a stop (whose
                    // end kills a console object's leftovers too).
                    Some(leader) if self.os.group_exists(leader) => self.end_dead_group(i, leader, status),
                    _ => {
                        // A console object's orphaned IOC, found by ownership.
                        if object.console.is_some() {
                            self.kill_leftovers(i);
                        }
                        self.after_failure(i)
                    }
                }
            }
            _ => {}
        }
    }

    /// The tracked process of object `i` (`leader`, a child of ours just
    /// reaped) died on its own and left members in the process group it led
    /// (what it started in the background): they are the object's, and
    /// would live on untracked beside the next run. They are ended as a stop
    /// ends them, TERMSIGNAL then SIGKILL after STOPTIMEOUT, in the Stopping
    /// state; once they are gone the object goes on as after any death
    /// (`finish_stop`, then `after_failure`), so a restart never meets them.
    fn end_dead_group(&mut self, i: usize, leader: Pid, status: ExitStatus) {
        let term = self.enter_stopping(i);
        let object = configured_object(&self.config, i);
        let stop_timeout = object.options.stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT_S);
        let st = &mut self.objs[i];
        st.ending_dead_group = true;
        self.notes.write(i, format_args!("process exited ({status}); ending what is left in its process group {leader}"));
        crate::logging::warn!("{}: ending what is left in process group {leader} (SIGKILL after {stop_timeout} s)", object.id);
        self.follow_group(i, leader);
        let _ = self.os.signal_group(leader, term);
        self.maybe_finish_stop(i);
    }

    /// A non-FORK start command succeeded: find what to follow, if anything.
    pub(super) fn command_finished(&mut self, i: usize) {
        let object = configured_object(&self.config, i);
        let o = &object.options;
        if self.plans[i].pid_file.is_some() && !o.no_track {
            self.wait_pid_file(i);
            return;
        }
        if o.service && !o.no_track {
            self.objs[i].pidfile_limit = self.os.now_ms() + SERVICE_WAIT_MS;
            self.look_for_daemon(i);
            return;
        }
        if o.no_track {
            self.track_after_start(i);
            return;
        }
        self.objs[i].set(State::Done);
        self.start_succeeded(i);
    }

    /// SERVICE: a daemonized service's process was reparented to us and
    /// belongs to the object (module `ownership`); a FORK NOTRACK object's
    /// process not found at its launch is looked for the same way
    /// (`untracked_process`: its pid file first). A process caught in the
    /// middle of its execve shows no environment for that instant, so until
    /// `pidfile_limit` the object stays Starting (without a process) and
    /// its deadline brings us back here.
    pub(super) fn look_for_daemon(&mut self, i: usize) {
        if let Some(pid) = self.untracked_process(i) {
            self.objs[i].main_pid = Some(pid);
            self.objs[i].set(State::Running);
            self.start_succeeded(i);
            return;
        }
        let now = self.os.now_ms();
        if now < self.objs[i].pidfile_limit {
            self.objs[i].deadline = Some(now + SERVICE_POLL_MS);
            return;
        }
        if configured_object(&self.config, i).options.service {
            crate::logging::warn!("{}: SERVICE started but no daemon process was found", configured_object(&self.config, i).id);
        }
        self.objs[i].set(State::Done);
        self.start_succeeded(i);
    }

    /// The process of object `i` that was reparented to the supervisor (a
    /// daemon whose starter exited): the lowest pid among them.
    pub(super) fn find_daemon(&mut self, i: usize) -> Option<Pid> {
        let me = self.os.self_pid();
        let plan = &self.plans[i];
        let mut candidates: heapless::Vec<Pid, 32> = heapless::Vec::new();
        self.os.for_each_marked(&plan.marker, &mut |pid, info| {
            if info.ppid == me && ownership::runs_as_object(plan, info) {
                let _ = candidates.push(pid);
            }
        });
        // In rising order, each the least above the one before (pids are
        // unique), not sorted: they are few, and the program's only sort of
        // `i32`s was a heapsort instance of its own.
        let mut after = None;
        while let Some(pid) = candidates.iter().copied().filter(|&pid| Some(pid) > after).min() {
            if self.may_follow(i, pid) {
                return Some(pid);
            }
            after = Some(pid);
        }
        None
    }

    /// A prestart, stop or reload command of object `i` (`pid`) was reaped.
    pub(super) fn helper_exited(&mut self, i: usize, pid: Pid, status: ExitStatus) {
        if self.objs[i].reload == Some(pid) {
            self.objs[i].reload = None;
            if !status.success() {
                crate::logging::warn!("{}: reload command: {status}", configured_object(&self.config, i).id);
            }
            // A stop began while it ran: it waits for it and its group.
            self.follow_group(i, pid);
            self.maybe_finish_stop(i);
            return;
        }
        let Some((helper, _)) = self.objs[i].helper.take() else { return };
        match helper {
            Helper::Prestart => {
                if !status.success() {
                    crate::logging::warn!("{}: prestart command: {status}", configured_object(&self.config, i).id);
                    self.objs[i].prestart_failed = true;
                }
                match self.objs[i].state {
                    State::Prestarting => self.launch(i),
                    // Stopped during its prestart: that was all there was,
                    // with what it left in its group.
                    State::Stopping => {
                        self.follow_group(i, pid);
                        self.maybe_finish_stop(i);
                    }
                    _ => {}
                }
            }
            Helper::StateDir => match self.objs[i].state {
                State::Prestarting if status.success() => self.prestart_or_launch(i),
                State::Prestarting => {
                    let why = match status {
                        ExitStatus::Exited(code) => crate::statedir::reason(code),
                        ExitStatus::Signaled(_) => crate::statedir::Reason::Text("killed"),
                    };
                    let dir = configured_object(&self.config, i).rare().state_directory.as_deref().unwrap_or(std::path::Path::new(""));
                    self.notes.write(i, format_args!("state directory {}: {why}", dir.display()));
                    self.start_failed_as_noted(i);
                }
                State::Stopping => {
                    self.follow_group(i, pid);
                    self.maybe_finish_stop(i);
                }
                _ => {}
            },
            Helper::Stop => {
                let st = &mut self.objs[i];
                // Killed for running too long: that stays the reason.
                if !status.success() && !st.killed {
                    st.outcome = Some(Outcome::Fail);
                    self.notes.write(i, format_args!("stop command: {status}"));
                }
                self.follow_group(i, pid);
                self.stop_command_ended(i);
            }
        }
    }

    /// A command of object `i` that led its own process group (every command
    /// the engine starts does) was reaped during a stop: members left in its
    /// group are the object's too, and the stop waits for them. The group is
    /// surely the object's: its number was the pid of our unreaped child until
    /// now, and stays taken while the group has a member.
    fn follow_group(&mut self, i: usize, leader: Pid) {
        if self.objs[i].state != State::Stopping || !self.os.group_exists(leader) {
            return;
        }
        if self.objs[i].leaderless_groups.push(leader).is_err() {
            // More groups than commands a stop stops: end this one at once.
            let _ = self.os.signal_group(leader, libc::SIGKILL);
        }
    }

    /// Whether a group the stop of object `i` follows still has members;
    /// forgets those that are empty (their number may be reused from then on).
    fn groups_left(&mut self, i: usize) -> bool {
        let os = &mut self.os;
        let groups = &mut self.objs[i].leaderless_groups;
        groups.retain(|&pgid| os.group_exists(pgid));
        !groups.is_empty()
    }

    pub(super) fn begin_stop(&mut self, i: usize, cause: Cause) -> Result<(), Refusal> {
        let object = configured_object(&self.config, i);
        let st = &mut self.objs[i];
        let halt_only_run = object.options.halt_only && cause == Cause::Shutdown;
        match st.state {
            // Ending what a dead process left: that goes on, and no restart
            // follows it.
            State::Stopping if st.ending_dead_group => {
                st.wanted = false;
                return Ok(());
            }
            State::Stopping => return Err(Refusal::Busy),
            State::Restarting | State::Crashed | State::Failed if !halt_only_run => {
                st.wanted = false;
                st.set(if st.state == State::Restarting { State::Stopped } else { st.state });
                if object.console.is_some() {
                    self.kill_leftovers(i);
                }
                return Ok(());
            }
            State::Stopped if !halt_only_run => return Err(Refusal::NotRunning),
            _ => {}
        }
        st.wanted = false;
        st.cause = cause;
        st.killed = false;
        st.outcome = Some(Outcome::Done);
        // Started without a process to follow (NOTRACK, a pid file that came
        // late): what runs for it now is stopped, not left running.
        let looked_for = st.state == State::Done || (st.state == State::Starting && st.main_pid.is_none());
        let untracked = looked_for && (object.options.no_track || self.plans[i].pid_file.is_some());
        if untracked && object.console.is_none() {
            self.objs[i].main_pid = self.untracked_process(i);
        }
        let object = configured_object(&self.config, i);
        let st = &mut self.objs[i];
        let term = object.options.term_signal.unwrap_or(libc::SIGTERM);
        // A prestart or reload command still in flight is stopped by signal.
        for pid in st.side_commands() {
            let _ = self.os.kill_group(pid, term);
        }
        match &object.stop {
            StopMethod::Command(_) if object.console.is_none() => {
                let spawned = match &self.plans[i].stop {
                    Some(cmd) => self.os.spawn(cmd, &root_options(&self.plans[i])),
                    None => Err(spawn::SpawnError { stage: spawn::Stage::Exec, errno: libc::ENOENT }),
                };
                match spawned {
                    Ok(pid) => self.objs[i].helper = Some((Helper::Stop, pid)),
                    Err(e) => {
                        let st = &mut self.objs[i];
                        st.outcome = Some(Outcome::Fail);
                        self.notes.write(i, format_args!("stop command: {e}"));
                        crate::logging::error!("{}: {}", object.id, self.notes.get(i));
                    }
                }
            }
            StopMethod::PidFile(_) if object.console.is_none() => {
                let pid = self.plans[i].stop_pid_file.as_ref().and_then(|p| self.os.read_pid_file(p));
                match pid {
                    Some(pid) if ownership::may_follow(&mut self.os, &self.plans[i], &self.objs[i], pid) => {
                        self.objs[i].main_pid = Some(pid);
                    }
                    Some(pid) => {
                        let st = &mut self.objs[i];
                        st.outcome = Some(Outcome::Warn);
                        self.notes.write(i, format_args!("the pid file names a process that is not this object's (pid {pid}): not signalled"));
                        crate::logging::warn!("{}: {}", object.id, self.notes.get(i));
                    }
                    None => {
                        let st = &mut self.objs[i];
                        st.outcome = Some(Outcome::Warn);
                        self.notes.write(i, format_args!("no pid in the pid file"));
                    }
                }
                // The process the object follows is stopped either way (a
                // FORK object's whose pid file never came, say).
                if let Some(pid) = self.objs[i].main_pid {
                    let _ = self.os.kill_group(pid, term);
                }
            }
            StopMethod::Killall5 { signal, wait_secs } if object.console.is_none() => {
                self.os.signal_all(signal.unwrap_or(libc::SIGTERM));
                let (now, wait_ms) = (self.os.now_ms(), wait_secs.unwrap_or(0) as u64 * 1000);
                let st = &mut self.objs[i];
                st.set(State::Stopping);
                st.killed = true; // nothing to escalate: the deadline ends it
                st.deadline = Some(now + wait_ms);
                if wait_ms == 0 {
                    self.finish_stop(i);
                }
                return Ok(());
            }
            // PID, NONE, and every console object: the signal to the process
            // (for procServ: SIGTERM, on which it SIGKILLs its IOC and exits).
            _ => {
                if let Some(pid) = self.objs[i].main_pid {
                    let _ = self.os.kill_group(pid, if object.console.is_some() { libc::SIGTERM } else { term });
                }
            }
        }
        self.enter_stopping(i);
        if self.objs[i].stop_command().is_some() {
            // Epoch's STOPTIMEOUT is the wait for the object's process once
            // the stop command has ended (`stop_command_ended`); the command
            // itself runs to completion, bounded by StopCommandTimeout only.
            let limit = self.stop_command_timeout_s().map(|s| self.os.now_ms() + u64::from(s) * 1000);
            self.objs[i].deadline = limit;
        }
        self.maybe_finish_stop(i);
        Ok(())
    }

    /// The stop command of object `i` ended (or was given up on after
    /// SIGKILL): STOPTIMEOUT, the wait for the object's processes, starts.
    fn stop_command_ended(&mut self, i: usize) {
        if self.objs[i].state != State::Stopping {
            return;
        }
        let deadline = self.stop_timeout_deadline(i);
        let st = &mut self.objs[i];
        st.killed = false;
        st.deadline = Some(deadline);
        self.maybe_finish_stop(i);
    }

    /// StopCommandTimeout ran out for the stop command of object `i`
    /// (`pid`): SIGKILL to its process group, so what a shell started goes
    /// with it, and the stop fails. One that is not reaped within
    /// KILL_WAIT_MS (stuck in the kernel) is given up on.
    fn stop_command_overdue(&mut self, i: usize, pid: Pid, now: u64) {
        let id = &configured_object(&self.config, i).id;
        if self.objs[i].killed {
            crate::logging::error!("{id}: stop command still running after SIGKILL; going on without it");
            self.objs[i].helper = None;
            self.stop_command_ended(i);
            return;
        }
        let secs = self.stop_command_timeout_s().unwrap_or(0);
        let st = &mut self.objs[i];
        st.killed = true;
        st.outcome = Some(Outcome::Fail);
        self.notes.write(i, format_args!("stop command did not end within {secs} s: killed"));
        crate::logging::error!("{id}: stop command did not end within {secs} s (StopCommandTimeout); sending SIGKILL to its process group");
        st.deadline = Some(now + KILL_WAIT_MS);
        let _ = self.os.kill_group(pid, libc::SIGKILL);
    }

    /// Completes a stop once the stop, prestart and reload commands, the main
    /// process, what they left in their process groups and (for consoles)
    /// every leftover process are gone; with NOSTOPWAIT, once the stop
    /// command has ended.
    pub(super) fn maybe_finish_stop(&mut self, i: usize) {
        let st = &self.objs[i];
        // A stop command always runs to completion, NOSTOPWAIT or not.
        if st.state != State::Stopping || st.stop_command().is_some() {
            return;
        }
        // KILLALL5 SIG SECS is Epoch's `killall5 -SIG; sleep SECS`: the wait
        // is the point, whatever ends meanwhile.
        let object = configured_object(&self.config, i);
        let asked_to_stop = !st.start_timed_out && !st.ending_dead_group;
        let killall5_wait = matches!(object.stop, StopMethod::Killall5 { .. }) && object.console.is_none() && asked_to_stop;
        if killall5_wait && st.deadline.is_some() {
            return;
        }
        if object.options.no_stop_wait && asked_to_stop {
            // NOSTOPWAIT: the object's processes are not waited for; their
            // exits are reaped later without effect.
            let st = &mut self.objs[i];
            st.main_pid = None;
            st.helper = None;
            st.leaderless_groups.clear();
            self.finish_stop(i);
            return;
        }
        if st.helper.is_some() || st.reload.is_some() {
            return;
        }
        // A child of ours is cleared when reaped; a pid that is not our child
        // (from a pid file) is gone once kill(0) says so.
        if let Some(pid) = st.main_pid {
            if self.os.pid_exists(pid) {
                return;
            }
            self.objs[i].main_pid = None;
        }
        if configured_object(&self.config, i).console.is_some() && self.kill_leftovers(i) > 0 {
            // Leftovers were signalled: their reaps bring us back here.
            if self.objs[i].deadline.is_none() {
                self.objs[i].deadline = Some(self.os.now_ms() + KILL_WAIT_MS);
            }
            return;
        }
        // Members of a group whose leader is gone: their reaps (as orphans,
        // they are ours), or the STOPTIMEOUT deadline, bring us back here.
        if self.groups_left(i) {
            return;
        }
        self.finish_stop(i);
    }

    pub(super) fn finish_stop(&mut self, i: usize) {
        // What the dead process left is gone: the object is down now (and a
        // `restart` asked for meanwhile starts it).
        if std::mem::take(&mut self.objs[i].ending_dead_group) {
            let st = &mut self.objs[i];
            if let (false, Some(exit)) = (std::mem::take(&mut st.killed), st.last_exit) {
                self.notes.write(i, format_args!("process exited ({exit}); what it left in its process group ended on TERMSIGNAL"));
            }
            st.set(State::Stopped);
            if std::mem::take(&mut st.restart_after_stop) {
                st.restarts = 0;
                let _ = self.begin_start(i, Cause::Manual);
            } else {
                self.after_failure(i);
            }
            return;
        }
        if std::mem::take(&mut self.objs[i].start_timed_out) {
            let st = &mut self.objs[i];
            st.killed = false;
            st.set(State::Stopped);
            // The reason the start was abandoned for is the note already.
            self.start_failed_as_noted(i);
            return;
        }
        let options = &configured_object(&self.config, i).options;
        let (runonce, critical) = (options.runonce && options.halt_only, options.stop_fail_critical);
        let st = &mut self.objs[i];
        let outcome = st.outcome.unwrap_or(Outcome::Done);
        let restart = std::mem::take(&mut st.restart_after_stop);
        st.set(State::Stopped);
        st.killed = false;
        if let Some(c) = &self.plans[i].console {
            self.os.clean_console(c.socket(), c.info());
        }
        self.report(i, "Stopping", outcome);
        let cause = self.objs[i].cause;
        if runonce && cause == Cause::Shutdown {
            self.objs[i].enabled = false;
            self.save_state();
        }
        if outcome == Outcome::Fail && critical && cause == Cause::Shutdown {
            let note = object::note(format_args!("{} failed to stop (STOPFAILCRITICAL)", configured_object(&self.config, i).id));
            self.paused = true;
            let _ = self.requests.push_back(SystemRequest::Emergency(note));
        }
        if restart {
            self.objs[i].restarts = 0;
            let _ = self.begin_start(i, Cause::Manual);
        }
    }

    pub(super) fn object_deadline(&mut self, i: usize) {
        let now = self.os.now_ms();
        // While its stop command runs, a stop's deadline is StopCommandTimeout.
        if let (State::Stopping, Some(pid)) = (self.objs[i].state, self.objs[i].stop_command()) {
            self.stop_command_overdue(i, pid, now);
            return;
        }
        match self.objs[i].state {
            // The start command ended: still looking for a SERVICE's daemon.
            State::Starting if self.objs[i].main_pid.is_none() => self.look_for_daemon(i),
            State::Restarting => {
                self.objs[i].set(State::Stopped);
                let cause = self.objs[i].cause;
                if self.begin_start(i, cause).is_err() {
                    self.objs[i].set(State::Failed);
                }
            }
            State::WaitPidFile => self.poll_pid_file(i, now),
            State::Stopping if !self.objs[i].killed => {
                let st = &mut self.objs[i];
                st.killed = true;
                let id = &configured_object(&self.config, i).id;
                if st.ending_dead_group {
                    self.notes.write(i, format_args!("what the dead process left in its process group did not end in time: killed"));
                    crate::logging::warn!("{id}: what the dead process left in its process group did not end in time; sending SIGKILL");
                } else {
                    // A stop command that failed stays the reason (and a failure).
                    if st.outcome != Some(Outcome::Fail) {
                        st.outcome = Some(Outcome::Warn);
                        self.notes.write(i, format_args!("did not stop in time: killed"));
                    }
                    crate::logging::warn!("{id}: did not stop in time; sending SIGKILL");
                }
                self.kill_stopping(i);
            }
            State::Stopping => {
                // Killall5 waits end here; after SIGKILL, give up waiting.
                if let Some(pid) = self.objs[i].main_pid {
                    if !self.os.pid_exists(pid) {
                        self.objs[i].main_pid = None;
                    }
                }
                let groups_left = self.groups_left(i);
                let st = &mut self.objs[i];
                if st.main_pid.is_some() || st.helper.is_some() || st.reload.is_some() || groups_left {
                    st.outcome = Some(Outcome::Fail);
                    crate::logging::error!("{}: still running after SIGKILL", configured_object(&self.config, i).id);
                    // An abandoned start keeps the reason it fails for.
                    if !st.start_timed_out {
                        self.notes.write(i, format_args!("still running after SIGKILL"));
                    }
                    st.main_pid = None;
                    st.helper = None;
                    st.reload = None;
                    st.leaderless_groups.clear();
                }
                self.finish_stop(i);
            }
            _ => {}
        }
    }

    /// SIGKILL to everything a stop of object `i` waits for (the process, the
    /// stop, prestart and reload commands, with their groups, and a console
    /// object's leftovers); the stop ends once they are reaped, or gives up
    /// [`KILL_WAIT_MS`] later.
    fn kill_stopping(&mut self, i: usize) {
        let now = self.os.now_ms();
        let st = &mut self.objs[i];
        st.killed = true;
        st.deadline = Some(now + KILL_WAIT_MS);
        for pid in st.main_pid.into_iter().chain(st.helper.map(|(_, pid)| pid)).chain(st.reload) {
            let _ = self.os.kill_group(pid, libc::SIGKILL);
        }
        // Only groups that still have a member: an empty one's
        // number is free for reuse.
        if self.groups_left(i) {
            for &pgid in &self.objs[i].leaderless_groups {
                let _ = self.os.signal_group(pgid, libc::SIGKILL);
            }
        }
        if configured_object(&self.config, i).console.is_some() {
            self.kill_leftovers(i);
        }
    }

    /// Ctrl-Alt-Del while object `i` starts or stops in the current job
    /// (Epoch: "kill the current job"): what it runs is SIGKILLed and the
    /// object goes on as after any such end — a killed prestart is a
    /// warning and the start command follows, a killed start command fails
    /// the start, a wait for ObjectPIDFile ends as when it runs out, a stop
    /// (its command, the wait for the process) ends with SIGKILL at once.
    pub(super) fn interrupt(&mut self, i: usize) {
        let id = &configured_object(&self.config, i).id;
        let st = &mut self.objs[i];
        match st.state {
            State::Prestarting | State::Starting => {
                crate::logging::warn!("{id}: Ctrl-Alt-Del: killing the start");
                for pid in st.main_pid.into_iter().chain(st.side_commands()) {
                    let _ = self.os.kill_group(pid, libc::SIGKILL);
                }
            }
            State::WaitPidFile => {
                self.notes.write(i, format_args!("Ctrl-Alt-Del: no longer waiting for ObjectPIDFile"));
                self.pid_file_gave_up(i, true);
            }
            State::Stopping => {
                crate::logging::warn!("{id}: Ctrl-Alt-Del: killing the stop");
                // A stop command cut off did not do its work: the stop
                // fails (STOPFAILCRITICAL applies); a wait for the
                // process cut short is only a warning, as after STOPTIMEOUT.
                if st.stop_command().is_some() {
                    st.outcome = Some(Outcome::Fail);
                    self.notes.write(i, format_args!("stop command killed by Ctrl-Alt-Del"));
                } else if st.outcome != Some(Outcome::Fail) {
                    st.outcome = Some(Outcome::Warn);
                    self.notes.write(i, format_args!("killed by Ctrl-Alt-Del"));
                }
                self.kill_stopping(i);
            }
            _ => {}
        }
    }

    /// WaitPidFile: accepts the pid in ObjectPIDFile once it names a process
    /// of the object; one that names someone else's is reported (once per
    /// pid) and never followed or signalled.
    fn poll_pid_file(&mut self, i: usize, now: u64) {
        let named = self.plans[i].pid_file.as_ref().and_then(|p| self.os.read_pid_file(p));
        let live = named.filter(|&pid| self.os.process(pid).is_some_and(|p| !p.zombie));
        if let Some(pid) = live.filter(|&pid| self.may_follow(i, pid)) {
            let st = &mut self.objs[i];
            self.notes.clear(i);
            st.main_pid = Some(pid);
            st.set(State::Running);
            self.start_succeeded(i);
            return;
        }
        if let Some(pid) = live {
            let note = object::note(format_args!("the pid file names a process that is not this object's (pid {pid})"));
            if self.notes.get(i) != note {
                crate::logging::warn!("{}: {note}", configured_object(&self.config, i).id);
                self.notes.set(i, &note);
            }
        }
        if now >= self.objs[i].pidfile_limit {
            // A pid that is someone else's is the reason, in the note.
            self.pid_file_gave_up(i, live.is_some());
            return;
        }
        // Poll quickly at first, then settle at one second.
        let limit = self.objs[i].pidfile_limit;
        let waited = (now + self.pid_file_wait_ms()).saturating_sub(limit);
        self.objs[i].deadline = Some((now + (waited / 4).clamp(50, 1000)).min(limit));
    }

    /// ObjectPIDFile named no live process of object `i` within
    /// `PIDFileTimeout` (or the wait was cut short; `explained`: the note
    /// already says why). As in Epoch the start ends with a warning and the
    /// object counts as started.
    /// What it started stays the object's: a FORK object's process, else a
    /// daemon found in /proc; a stop looks again (the pid file first), so
    /// `epoch stop` and the shutdown still end it.
    fn pid_file_gave_up(&mut self, i: usize, explained: bool) {
        let secs = self.pid_file_wait_ms() / 1000;
        if self.objs[i].main_pid.is_none() {
            self.objs[i].main_pid = self.find_daemon(i);
        }
        let st = &mut self.objs[i];
        if !explained {
            self.notes.write(i, format_args!("no live pid in ObjectPIDFile after {secs} s"));
        }
        let id = &configured_object(&self.config, i).id;
        match st.main_pid {
            Some(pid) => crate::logging::warn!("{id}: {}; started, following pid {pid}", self.notes.get(i)),
            None => crate::logging::warn!("{id}: {}; started, no process found to follow", self.notes.get(i)),
        }
        st.outcome = Some(Outcome::Warn);
        st.set(if st.main_pid.is_some() { State::Running } else { State::Done });
        self.start_succeeded(i);
    }

    /// SIGKILLs every other process that belongs to object `i` (a console
    /// object's orphaned IOC; module `ownership`), whoever else carries its
    /// marker; returns how many there were. Callers retry while some
    /// remain: the log line comes on the 1st, 2nd, 4th, 8th… round in a row.
    pub(super) fn kill_leftovers(&mut self, i: usize) -> usize {
        let main = self.objs[i].main_pid;
        let plan = &self.plans[i];
        // Only processes running as the object's user are candidates, so
        // other users' marked processes cannot crowd out the real ones.
        let mut candidates: heapless::Vec<Pid, 32> = heapless::Vec::new();
        self.os.for_each_marked(&plan.marker, &mut |pid, info| {
            if Some(pid) != main && ownership::runs_as_object(plan, info) {
                let _ = candidates.push(pid);
            }
        });
        let mut count = 0;
        for pid in candidates {
            if self.owns(i, pid) && self.os.kill(pid, libc::SIGKILL).is_ok() {
                count += 1;
            }
        }
        let st = &mut self.objs[i];
        if count == 0 {
            st.leftover_rounds = 0;
            return 0;
        }
        st.leftover_rounds = st.leftover_rounds.saturating_add(1);
        let rounds = st.leftover_rounds;
        let id = &configured_object(&self.config, i).id;
        if rounds == 1 {
            crate::logging::warn!("{id}: killed {count} leftover process(es)");
        } else if rounds.is_power_of_two() {
            crate::logging::warn!("{id}: {count} leftover process(es) still there after {rounds} rounds of SIGKILL");
        }
        count
    }
}

/// How long a start waits for leftovers it killed, after `rounds` rounds
/// in a row: doubling from [`LEFTOVER_WAIT_MS`] up to [`LEFTOVER_MAX_WAIT_MS`].
fn leftover_wait_ms(rounds: u32) -> u64 {
    (LEFTOVER_WAIT_MS << rounds.saturating_sub(1).min(16)).min(LEFTOVER_MAX_WAIT_MS)
}

pub(super) fn redirect(o: &OutputPlan) -> Redirect<'_> {
    match o {
        OutputPlan::Inherit => Redirect::Inherit,
        OutputPlan::Null => Redirect::Null,
        OutputPlan::Append(p) => Redirect::Append(p),
    }
}

/// Options for commands Epoch runs as root: prestart, stop, reload.
pub(super) fn root_options(plan: &ObjectPlan) -> spawn::Options<'_> {
    spawn::Options { stdout: redirect(&plan.stdout), stderr: redirect(&plan.stderr), ..Default::default() }
}
