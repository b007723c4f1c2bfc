//! Parses generated configurations of 100 and 10,000 objects (mixed
//! attributes and options, spread over Imports, plus IOC files) from memory,
//! and prints the median time and the heap allocations of one load, side by
//! side. Run with `cargo bench --bench config_parse`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use iocinit::config::{load_with, LoadOptions, MemFs};

/// Counts every allocation (and reallocation) made through the global allocator.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static ALLOCATED_BYTES: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        ALLOCATED_BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc`/`realloc` above, i.e. from System.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        ALLOCATED_BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        // SAFETY: as for `dealloc`; the caller upholds realloc's contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const MAIN: &str = "/etc/epoch/epoch.conf";
const IOC_DIR: &str = "/etc/procServ.d";
/// Objects per imported file.
const PER_FILE: usize = 500;

/// A small deterministic generator, so every run parses the same text.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

fn write_object(out: &mut String, id: usize, rng: &mut Lcg) {
    let _ = writeln!(out, "ObjectID svc{id}");
    let _ = writeln!(out, "  ObjectDescription Service number {id}");
    let _ = writeln!(out, "  ObjectStartCommand=/usr/sbin/svc{id} --config /etc/svc{id}.conf");
    let stop = ["PID", "NONE", "KILLALL5 15 2", "PIDFILE /run/svc.pid", "/usr/sbin/svcctl stop"][rng.next(5)];
    let _ = writeln!(out, "  ObjectStopCommand {stop}");
    let start = ["net", "early", "late"][rng.next(3)];
    let _ = writeln!(out, "  ObjectStartPriority {start}\n  ObjectStopPriority={}", 1 + rng.next(20));
    let _ = writeln!(out, "  ObjectRunlevels default{}", [" multiuser", "", " gui multiuser"][rng.next(3)]);
    let options = ["SERVICE AUTORESTART", "FORKN", "RAWDESCRIPTION STOPTIMEOUT=20 TERMSIGNAL=SIGTERM", "MAPEXITSTATUS=2,WARNING NOTRACK"];
    let _ = writeln!(out, "  ObjectOptions {}", options[rng.next(options.len())]);
    if rng.next(3) == 0 {
        let _ = writeln!(out, "  ObjectUser daemon\n  ObjectWorkingDirectory /var/lib/svc{id}\n  ObjectEnvVar LEVEL={id}");
    }
    if rng.next(4) == 0 {
        let _ = writeln!(out, "  # a comment\n  ObjectReloadCommand SIGNAL SIGHUP\n  ObjectStdout LOG");
    }
    let _ = writeln!(out, "  ObjectEnabled true");
}

/// `objects` objects, 10% of them IOC files, the rest in epoch.conf and Imports.
fn generate(objects: usize) -> (MemFs, usize) {
    let mut rng = Lcg(objects as u64);
    let iocs = objects / 10;
    let mut main = String::from(
        "DefaultRunlevel default\nRunlevelInherits gui multiuser\nDefinePriority early 1\nDefinePriority net 2\nDefinePriority late 50\nMountVirtual procfs sysfs+ devpts+\nHostname board\nEnableLogging true\n>!> disabled\nObjectID old\n<!<\n",
    );
    let mut fs = MemFs::new();
    let mut bytes = 0;
    let plain = objects - iocs;
    for (file, chunk) in (0..plain).collect::<Vec<_>>().chunks(PER_FILE).enumerate() {
        let mut text = String::new();
        for &id in chunk {
            write_object(&mut text, id, &mut rng);
        }
        let _ = writeln!(main, "Import services{file}.conf");
        bytes += text.len();
        fs.insert(format!("/etc/epoch/services{file}.conf"), text);
    }
    for id in 0..iocs {
        let text = format!("IOC_NAME=\"ioc{id}\"\nIOC_USER=\"ioc\"\nIOC_GROUP=\"ioc\"\nIOC_CHDIR=\"/opt/iocs/ioc{id}\"\nIOC_PORT=\"unix:ioc-srv:ioc:0660:/run/procserv/ioc{id}/control\"\nIOC_CMD=\"./st.cmd\"\n");
        bytes += text.len();
        fs.insert(format!("{IOC_DIR}/ioc{id}.conf"), text);
    }
    bytes += main.len();
    fs.insert(MAIN, main);
    (fs, bytes)
}

struct Figures {
    objects: usize,
    bytes: usize,
    median: Duration,
    allocations: u64,
    allocated_bytes: u64,
}

fn measure(objects: usize, runs: usize) -> Figures {
    let (fs, bytes) = generate(objects);
    let options = LoadOptions::default();
    let load = || load_with(&fs, Path::new(MAIN), &options);
    let check = load();
    assert!(check.diagnostics.is_empty(), "{:?}", &check.diagnostics[..check.diagnostics.len().min(3)]);
    assert_eq!(check.config.as_ref().map(|c| c.objects.len()), Some(objects));
    drop(check);

    let (before_count, before_bytes) = (ALLOCATIONS.load(Ordering::Relaxed), ALLOCATED_BYTES.load(Ordering::Relaxed));
    drop(load());
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before_count;
    let allocated_bytes = ALLOCATED_BYTES.load(Ordering::Relaxed) - before_bytes;

    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let loaded = load();
            let elapsed = start.elapsed();
            drop(loaded);
            elapsed
        })
        .collect();
    times.sort();
    Figures { objects, bytes, median: times[runs / 2], allocations, allocated_bytes }
}

fn main() {
    let figures = [measure(100, 51), measure(10_000, 11)];
    println!("config_parse: one load from memory (epoch.conf + Imports of {PER_FILE} objects + 10% as IOC files)");
    println!("{:>8} {:>10} {:>12} {:>12} {:>14} {:>12}", "objects", "input KiB", "median", "per object", "allocations", "alloc. KiB");
    for f in figures {
        println!(
            "{:>8} {:>10.1} {:>12.3?} {:>12.2?} {:>14} {:>12.1}",
            f.objects,
            f.bytes as f64 / 1024.0,
            f.median,
            f.median / f.objects as u32,
            f.allocations,
            f.allocated_bytes as f64 / 1024.0
        );
    }
}
