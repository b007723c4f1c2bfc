//! Parses generated configurations of 32, 100 and 10,000 objects (mixed
//! attributes and options, spread over Imports, plus IOC files) from memory,
//! and prints the median time (wall and CPU of the loading thread: on a loaded
//! machine the CPU time is the steadier figure), the heap allocations of
//! one load and the heap the loaded configuration holds, side by side, beside the CPU time of a pass that only counts the
//! lines of the same input (the floor, measured in the same run). Run with `cargo bench --bench config_parse`; with
//! `--features alloc-count` the crate's own counting allocator is used and
//! the allocated and held bytes are not shown.

use std::fmt::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use iocinit::config::{load_with, LoadOptions, MemFs, MAX_IOC_FILES};
use nix::time::{clock_gettime, ClockId};

/// This bench's own counting allocator, which also counts bytes; under
/// `alloc-count` the crate brings its own (one global allocator only).
#[cfg(not(feature = "alloc-count"))]
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Counts every allocation (and reallocation) made through the global
    /// allocator, and the bytes held at any time.
    struct Counting;

    pub static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
    pub static ALLOCATED_BYTES: AtomicU64 = AtomicU64::new(0);
    /// Bytes allocated and not yet freed (what malloc adds per block is not counted).
    pub static HELD_BYTES: AtomicU64 = AtomicU64::new(0);

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            ALLOCATED_BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
            HELD_BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
            // SAFETY: forwarded unchanged to the system allocator.
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            HELD_BYTES.fetch_sub(layout.size() as u64, Ordering::Relaxed);
            // SAFETY: `ptr` came from `alloc`/`realloc` above, i.e. from System.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            ALLOCATED_BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
            HELD_BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
            HELD_BYTES.fetch_sub(layout.size() as u64, Ordering::Relaxed);
            // SAFETY: as for `dealloc`; the caller upholds realloc's contract.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static GLOBAL: Counting = Counting;
}

/// Allocations so far, allocated bytes so far and bytes held now (bytes:
/// `None` under `alloc-count`).
fn allocations() -> (u64, Option<(u64, u64)>) {
    #[cfg(not(feature = "alloc-count"))]
    {
        use std::sync::atomic::Ordering::Relaxed;
        let bytes = (counting::ALLOCATED_BYTES.load(Relaxed), counting::HELD_BYTES.load(Relaxed));
        (counting::ALLOCATIONS.load(Relaxed), Some(bytes))
    }
    #[cfg(feature = "alloc-count")]
    {
        (iocinit::alloc_count::allocations().unwrap_or_default(), None)
    }
}


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

/// `objects` objects (the files, and their texts), 10% of them IOC files (at most the [`MAX_IOC_FILES`] a
/// load reads), the rest in epoch.conf and Imports.
fn generate(objects: usize) -> (MemFs, Vec<String>) {
    let mut rng = Lcg(objects as u64);
    let iocs = (objects / 10).min(MAX_IOC_FILES);
    let mut main = String::from(
        "DefaultRunlevel default\nRunlevelInherits gui multiuser\nDefinePriority early 1\nDefinePriority net 2\nDefinePriority late 50\nMountVirtual procfs sysfs+ devpts+\nHostname board\nEnableLogging true\n>!> disabled\nObjectID old\n<!<\n",
    );
    let mut fs = MemFs::new();
    let mut texts = Vec::new();
    let plain = objects - iocs;
    for (file, chunk) in (0..plain).collect::<Vec<_>>().chunks(PER_FILE).enumerate() {
        let mut text = String::new();
        for &id in chunk {
            write_object(&mut text, id, &mut rng);
        }
        let _ = writeln!(main, "Import services{file}.conf");
        fs.insert(format!("/etc/epoch/services{file}.conf"), text.as_str());
        texts.push(text);
    }
    for id in 0..iocs {
        let text = format!("IOC_NAME=\"ioc{id}\"\nIOC_USER=\"ioc\"\nIOC_GROUP=\"ioc\"\nIOC_CHDIR=\"/opt/iocs/ioc{id}\"\nIOC_PORT=\"unix:ioc-srv:ioc:0660:/run/procserv/ioc{id}/control\"\nIOC_CMD=\"./st.cmd\"\n");
        fs.insert(format!("{IOC_DIR}/ioc{id}.conf"), text.as_str());
        texts.push(text);
    }
    fs.insert(MAIN, main.as_str());
    texts.push(main);
    (fs, texts)
}

struct Figures {
    objects: usize,
    bytes: usize,
    median: Duration,
    /// Median CPU time of the loading thread: less noisy than `median` on a
    /// loaded machine.
    cpu: Duration,
    /// Median CPU time of one pass that only counts the lines of the same
    /// files: the floor any parser of this input stands on.
    lines_only: Duration,
    allocations: u64,
    allocated_bytes: Option<u64>,
    /// Heap the loaded configuration holds (what PID 1 keeps of it).
    held_bytes: Option<u64>,
}

fn thread_cpu() -> Duration {
    let t = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).expect("CLOCK_THREAD_CPUTIME_ID");
    Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn measure(objects: usize, runs: usize) -> Figures {
    let (fs, texts) = generate(objects);
    let bytes = texts.iter().map(String::len).sum();
    let options = LoadOptions::default();
    let load = || load_with(&fs, Path::new(MAIN), &options);
    let check = load();
    assert!(check.diagnostics.is_empty(), "{:?}", &check.diagnostics[..check.diagnostics.len().min(3)]);
    assert_eq!(check.config.as_ref().map(|c| c.objects.len()), Some(objects));
    drop(check);

    let (count_before, bytes_before) = allocations();
    let loaded = load();
    let (count_after, bytes_after) = allocations();
    drop(loaded);
    let allocations = count_after - count_before;
    let counted = bytes_after.zip(bytes_before);
    let allocated_bytes = counted.map(|((after, _), (before, _))| after - before);
    let held_bytes = counted.map(|((_, after), (_, before))| after - before);

    let (times, cpu_times): (Vec<Duration>, Vec<Duration>) = (0..runs)
        .map(|_| {
            let (start, cpu) = (Instant::now(), thread_cpu());
            let loaded = load();
            let elapsed = (start.elapsed(), thread_cpu() - cpu);
            drop(loaded);
            elapsed
        })
        .unzip();
    let lines_only = (0..runs)
        .map(|_| {
            let cpu = thread_cpu();
            let lines: usize = texts.iter().map(|t| t.bytes().filter(|&b| b == b'\n').count()).sum();
            std::hint::black_box(lines);
            thread_cpu() - cpu
        })
        .collect();
    Figures { objects, bytes, median: median(times), cpu: median(cpu_times), lines_only: median(lines_only), allocations, allocated_bytes, held_bytes }
}

fn main() {
    // 32: a board's configuration (what PID 1 loads before its first start).
    let figures = [measure(32, 101), measure(100, 51), measure(10_000, 11)];
    println!("config_parse: one load from memory (epoch.conf + Imports of {PER_FILE} objects + 10% as IOC files, at most {MAX_IOC_FILES})");
    println!(
        "{:>8} {:>10} {:>12} {:>12} {:>12} {:>12} {:>14} {:>12} {:>10}",
        "objects", "input KiB", "median", "CPU median", "per object", "lines (CPU)", "allocations", "alloc. KiB", "held KiB"
    );
    let kib = |bytes: Option<u64>| bytes.map_or("-".to_string(), |b| format!("{:.1}", b as f64 / 1024.0));
    for f in figures {
        println!(
            "{:>8} {:>10.1} {:>12.3?} {:>12.3?} {:>12.2?} {:>12.3?} {:>14} {:>12} {:>10}",
            f.objects,
            f.bytes as f64 / 1024.0,
            f.median,
            f.cpu,
            f.median / f.objects as u32,
            f.lines_only,
            f.allocations,
            kib(f.allocated_bytes),
            kib(f.held_bytes)
        );
    }
}
