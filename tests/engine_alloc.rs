//! PID 1's steady state makes no heap allocation: reaps, restarts, timer
//! expiries and control requests (status replies included) once the boot has
//! settled. Needs the counting allocator:
//! `cargo test --features alloc-count --test engine_alloc` (`iocinit version`
//! then reports `allocations`).
//!
//! Nothing here depends on how fast the loop runs (a loaded machine may take
//! several times as long): waits are conditions with generous timeouts, and
//! every timer the loop counts on is renewed within the loop.

mod ns;

use std::time::Duration;

use ns::{ok, scratch, wait_for, write, Pid1};

const T: Duration = Duration::from_secs(60);

fn allocations(p: &Pid1) -> u64 {
    let v: serde_json::Value = serde_json::from_str(&ok(p.ctl(&["version", "--json"]))).unwrap();
    v["allocations"].as_u64().expect("built without the alloc-count feature")
}

#[test]
fn a_thousand_events_allocate_nothing() {
    let dir = scratch("alloc-events");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\nEnableLogging true\nIocLogDirectory @DIR@/ioclogs\n\
         ObjectID crash\nObjectStartCommand echo x >> @DIR@/starts; exit 1\nObjectStartPriority 1\nObjectStopPriority 1\n\
         ObjectRunlevels default\nObjectOptions FORK AUTORESTART\n\
         ObjectID steady\nObjectDescription a steady service\nObjectStartCommand /bin/sleep 600 & exec /bin/sleep 601\n\
         ObjectStartPriority 1\nObjectStopPriority 1\nObjectRunlevels default\nObjectOptions FORK\nObjectReloadCommand /bin/true\nObjectUser nobody\n\
         ObjectID con\nObjectStartCommand /bin/sleep 600\nObjectStartPriority 1\nObjectStopPriority 1\n\
         ObjectRunlevels default\nObjectOptions PROCSERV AUTORESTART\n\
         ObjectID waiter\nObjectStartCommand /bin/true\nObjectPIDFile @DIR@/never.pid\nObjectStartPriority 0\n\
         ObjectRunlevels default\n",
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    // Warm up every path once (first-use costs such as the time zone are
    // not the steady state), then count.
    ok(p.ctl(&["status"]));
    ok(p.ctl(&["status", "steady", "--json"]));
    ok(p.ctl(&["start", "waiter", "--no-wait"]));
    // The crash has failed once (it may have run into `crashed` meanwhile).
    assert!(wait_for(T, || matches!(p.state("crash").as_str(), "restarting" | "crashed")));
    let _ = p.ctl(&["start", "crash"]);
    std::thread::sleep(Duration::from_millis(300));
    let before = allocations(&p);
    let starts_before = std::fs::read_to_string(dir.join("starts")).unwrap().lines().count();
    // 200 rounds of: a start request for the crashing service (a spawn, then
    // its reap and an automatic restart or a backoff timer), a status table,
    // a status of one object as JSON, a getpid, a runlevel query, a stop and
    // a start of the steady service (it runs as nobody: its credentials are
    // applied and its user shown; signal to its group, reap of the main
    // process and of the child left in its group, spawn; a reload command
    // still running is stopped and reaped with it), its reload command (spawn,
    // reap), an enable and an objrl (the state file); the waiter's pid file
    // poll expires on the timer meanwhile. Every fourth round the procServ
    // object restarts too (its IOC's leftovers looked for in /proc, its
    // console directory prepared) and shows its IOC's pid in status. Every
    // tenth round the waiter starts over, so that its 30 s pid file window
    // never runs out however slow the rounds are.
    let script = format!(
        "i=0; while [ $i -lt 200 ]; do {bin} start crash; {bin} status; {bin} status steady --json; {bin} getpid steady; \
         {bin} runlevel; {bin} stop steady; {bin} start steady; {bin} enable steady; \
         {bin} reload steady; {bin} objrl steady add default; {bin} status con; \
         [ $((i % 4)) -eq 0 ] && {bin} restart con; \
         if [ $((i % 10)) -eq 0 ]; then {bin} stop waiter; {bin} start waiter --no-wait; fi; i=$((i+1)); done > /dev/null 2>&1; true",
        bin = ns::BIN
    );
    ok(p.sh(&script));
    // Let the last crash run into its backoff timer.
    std::thread::sleep(Duration::from_millis(600));
    let after = allocations(&p);
    let starts = std::fs::read_to_string(dir.join("starts")).unwrap().lines().count() - starts_before;
    let console = p.console();
    eprintln!("allocations {before} -> {after} over {starts} restarts of crash, 200 of steady, 50 of a procServ, 20 of the waiter, 2,290 requests");
    assert!(starts >= 200, "only {starts} restarts");
    assert!(console.matches("crash: process exited").count() >= 200);
    assert_eq!(after, before, "PID 1 allocated {} times in its steady state", after - before);
    assert_eq!(p.state("waiter"), "waiting-pidfile");
    assert_eq!(p.state("steady"), "running");
    // procServ starts its IOC in its own time.
    let mut con = serde_json::Value::Null;
    let up = wait_for(T, || {
        con = p.status("con");
        con["state"] == "running" && con["ioc_pid"].is_i64()
    });
    assert!(up, "{con}");
    // The counter is live: a configuration reload allocates by design.
    ok(p.ctl(&["configreload"]));
    assert!(allocations(&p) > after);
    p.poweroff();
}
