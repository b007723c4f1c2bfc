//! Sequencing: the one job at a time — the boot's waves of start
//! priority, a runlevel switch (stop what the target does not hold, then
//! start what it does), and shutdown (objects by stop priority, then SIGTERM
//! and SIGKILL to everything else) — advanced after every event. Also the
//! boot/shutdown status lines.

use super::*;

impl<O: Os> Engine<O> {
    pub(super) fn wants_start(&self, i: usize, runlevel: usize, cause: Cause) -> bool {
        let o = configured_object(&self.config, i);
        let st = &self.objs[i];
        st.enabled
            && !st.removed
            && o.start_priority > 0
            && !o.options.halt_only
            && self.in_runlevel(i, runlevel)
            && !(cause == Cause::Boot && self.boot_skip.iter().any(|id| *id == o.id))
    }

    pub(super) fn stops_for_runlevel(&self, i: usize, target: usize) -> bool {
        let o = configured_object(&self.config, i);
        o.stop_priority > 0
            && !o.options.persistent
            && !o.options.halt_only
            && (self.objs[i].state.is_started() || self.objs[i].ending_dead_group)
            && !self.in_runlevel(i, target)
    }

    /// A HALTONLY object runs at shutdown only while enabled (ObjectEnabled,
    /// `disable`, RUNONCE after its first run): Epoch's ObjectEnabled holds
    /// "in ANY situations".
    pub(super) fn stops_at_shutdown(&self, i: usize) -> bool {
        let o = configured_object(&self.config, i);
        let st = &self.objs[i];
        o.stop_priority > 0 && ((o.options.halt_only && st.enabled) || st.state.is_started() || st.state == State::Stopping)
    }

    /// Advances the current job as far as events allow.
    pub(super) fn advance(&mut self) {
        while !self.paused {
            match self.job {
                Job::Idle => return,
                Job::Start { runlevel, priority, cause } => {
                    let member = |e: &Self, i: usize| e.wants_start(i, runlevel, cause);
                    if self.wave_busy(priority, true, &member) {
                        return;
                    }
                    match self.next_priority(priority, true, &member) {
                        Some(p) => {
                            self.job = Job::Start { runlevel, priority: p, cause };
                            for i in 0..self.objs.len() {
                                if configured_object(&self.config, i).start_priority == p && member(self, i) && self.objs[i].state.is_down() {
                                    let _ = self.begin_start(i, cause);
                                }
                            }
                        }
                        None => {
                            self.job = Job::Idle;
                            if self.phase == Phase::Booting {
                                self.finish_boot();
                            }
                        }
                    }
                }
                Job::StopForRunlevel { target, priority } => {
                    let member = |e: &Self, i: usize| e.stops_for_runlevel(i, target) || e.objs[i].state == State::Stopping;
                    if self.wave_busy(priority, false, &member) {
                        return;
                    }
                    let member = |e: &Self, i: usize| e.stops_for_runlevel(i, target);
                    match self.next_priority(priority, false, &member) {
                        Some(p) => {
                            self.job = Job::StopForRunlevel { target, priority: p };
                            for i in 0..self.objs.len() {
                                if configured_object(&self.config, i).stop_priority == p && member(self, i) {
                                    let _ = self.begin_stop(i, Cause::Runlevel);
                                }
                            }
                        }
                        None => self.job = Job::Start { runlevel: target, priority: 0, cause: Cause::Runlevel },
                    }
                }
                Job::Shutdown { power, step: ShutdownStep::Objects(priority) } => {
                    let member = |e: &Self, i: usize| e.stops_at_shutdown(i);
                    if self.wave_busy(priority, false, &member) {
                        return;
                    }
                    let pending = |e: &Self, i: usize| e.stops_at_shutdown(i) && e.objs[i].state != State::Stopping;
                    match self.next_priority(priority, false, &pending) {
                        Some(p) => {
                            self.job = Job::Shutdown { power, step: ShutdownStep::Objects(p) };
                            for i in 0..self.objs.len() {
                                if configured_object(&self.config, i).stop_priority == p && pending(self, i) {
                                    let _ = self.begin_stop(i, Cause::Shutdown);
                                }
                            }
                        }
                        None => {
                            // Nothing restarts from here on.
                            for st in self.objs.iter_mut() {
                                st.wanted = false;
                                if st.state == State::Restarting {
                                    st.set(State::Stopped);
                                }
                            }
                            let signalled = self.os.signal_all(libc::SIGTERM);
                            crate::logging::info!("sent SIGTERM to {signalled} process(es)");
                            let deadline = self.os.now_ms() + if signalled == 0 { 0 } else { TERM_GRACE_MS };
                            self.job = Job::Shutdown { power, step: ShutdownStep::Term(deadline) };
                        }
                    }
                }
                Job::Shutdown { power, step: ShutdownStep::Term(_) | ShutdownStep::Kill(_) } => {
                    // Ends early once nothing is left.
                    if self.os.signal_all(0) == 0 {
                        self.finish_shutdown(power, 0);
                    }
                    return;
                }
            }
        }
    }

    /// Ctrl-Alt-Del's "kill the current job": the objects of the wave in
    /// progress (of a boot or runlevel start, a runlevel or shutdown stop)
    /// that are still starting or stopping have what they run killed
    /// (`interrupt`), and the job goes on as their ends arrive; in the
    /// shutdown's SIGTERM grace, the SIGKILL to everything comes now.
    /// Returns whether there was a job to kill.
    pub(super) fn kill_current_job(&mut self) -> bool {
        let (priority, start) = match self.job {
            Job::Start { priority, .. } => (priority, true),
            Job::StopForRunlevel { priority, .. } | Job::Shutdown { step: ShutdownStep::Objects(priority), .. } => (priority, false),
            Job::Shutdown { power, step: ShutdownStep::Term(_) } => {
                self.shutdown_step_expired(power);
                return true;
            }
            Job::Shutdown { step: ShutdownStep::Kill(_), .. } | Job::Idle => return false,
        };
        let mut killed = false;
        for i in 0..self.objs.len() {
            let o = configured_object(&self.config, i);
            let state = self.objs[i].state;
            let in_wave = if start { o.start_priority == priority && state.is_starting() } else { o.stop_priority == priority && state == State::Stopping };
            if priority > 0 && in_wave {
                self.interrupt(i);
                killed = true;
            }
        }
        killed
    }

    pub(super) fn shutdown_step_expired(&mut self, power: Power) {
        match self.job {
            Job::Shutdown { step: ShutdownStep::Term(_), .. } => {
                let killed = self.os.signal_all(libc::SIGKILL);
                if killed > 0 {
                    crate::logging::warn!("sent SIGKILL to {killed} process(es) still running");
                }
                self.job = Job::Shutdown { power, step: ShutdownStep::Kill(self.os.now_ms() + KILL_GRACE_MS) };
            }
            Job::Shutdown { step: ShutdownStep::Kill(_), .. } => {
                let left = self.os.signal_all(0);
                self.finish_shutdown(power, left);
            }
            _ => {}
        }
    }

    pub(super) fn finish_shutdown(&mut self, power: Power, left: usize) {
        if left == 0 {
            crate::logging::info!("all processes ended");
        } else {
            crate::logging::error!("{left} process(es) did not end");
        }
        self.job = Job::Idle;
        let _ = self.requests.push_back(SystemRequest::Power(power));
    }

    pub(super) fn finish_boot(&mut self) {
        self.phase = Phase::Up;
        let _ = self.requests.push_back(SystemRequest::Ready);
        // The list is taken while its objects start, which borrow the
        // engine, and put back after.
        let boot_start = std::mem::take(&mut self.boot_start);
        for id in &boot_start {
            let result = match self.find(id) {
                Some(i) => self.begin_start(i, Cause::Manual),
                None => Err(Refusal::Removed),
            };
            if let Err(e) = result {
                crate::logging::warn!("startobj {id}: {e}");
            }
        }
        self.boot_start = boot_start;
    }

    /// Whether a member object of wave `priority` is still in transition.
    pub(super) fn wave_busy(&self, priority: u32, start: bool, member: &dyn Fn(&Self, usize) -> bool) -> bool {
        priority > 0
            && (0..self.objs.len()).any(|i| {
                let o = configured_object(&self.config, i);
                let p = if start { o.start_priority } else { o.stop_priority };
                p == priority && self.objs[i].state.is_transitional() && member(self, i)
            })
    }

    /// The lowest priority above `after` that has a member object.
    pub(super) fn next_priority(&self, after: u32, start: bool, member: &dyn Fn(&Self, usize) -> bool) -> Option<u32> {
        (0..self.objs.len())
            .filter(|&i| member(self, i))
            .map(|i| {
                let o = configured_object(&self.config, i);
                if start {
                    o.start_priority
                } else {
                    o.stop_priority
                }
            })
            .filter(|&p| p > after)
            .min()
    }

    pub(super) fn report(&mut self, i: usize, verb: &str, outcome: Outcome) {
        let object = configured_object(&self.config, i);
        let cause = self.objs[i].cause;
        let line = self.format.line(verb, &object.description, object.options.raw_description, outcome);
        if matches!(cause, Cause::Boot | Cause::Runlevel | Cause::Shutdown) {
            self.os.status_line(format_args!("{line}"));
        } else {
            crate::logging::info!("{}", line.trimmed());
        }
    }
}
