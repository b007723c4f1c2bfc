//! A counting global allocator, compiled in only with the `alloc-count`
//! feature (tests use it to prove that the steady-state loop of PID 1 makes
//! no heap allocation, and how many bytes a configuration keeps per
//! object). `iocinit version` reports the count when present.

#[cfg(feature = "alloc-count")]
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;
    use std::sync::atomic::{AtomicU64, Ordering};

    pub static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

    thread_local! {
        // Const-initialised, no destructor: reading it never allocates.
        pub static THREAD_ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
        /// Bytes this thread allocated less those it freed.
        pub static THREAD_LIVE_BYTES: Cell<i64> = const { Cell::new(0) };
    }

    fn count() {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        let _ = THREAD_ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    }

    fn live(bytes: i64) {
        let _ = THREAD_LIVE_BYTES.try_with(|n| n.set(n.get() + bytes));
    }

    pub struct Counting;

    // SAFETY: forwards to the system allocator; only counts.
    #[allow(unsafe_code)]
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            count();
            live(layout.size() as i64);
            System.alloc(layout)
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            live(-(layout.size() as i64));
            System.dealloc(ptr, layout)
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            count();
            live(new_size as i64 - layout.size() as i64);
            System.realloc(ptr, layout, new_size)
        }
    }

    #[global_allocator]
    static GLOBAL: Counting = Counting;
}

/// Heap allocations (and reallocations) since start, with `alloc-count`.
pub fn allocations() -> Option<u64> {
    #[cfg(feature = "alloc-count")]
    {
        Some(counting::ALLOCATIONS.load(std::sync::atomic::Ordering::Relaxed))
    }
    #[cfg(not(feature = "alloc-count"))]
    {
        None
    }
}

/// [`allocations`] made by the calling thread alone: what a test measures
/// while other tests' threads allocate beside it.
pub fn thread_allocations() -> Option<u64> {
    #[cfg(feature = "alloc-count")]
    {
        Some(counting::THREAD_ALLOCATIONS.with(std::cell::Cell::get))
    }
    #[cfg(not(feature = "alloc-count"))]
    {
        None
    }
}

/// Bytes the calling thread allocated and has not freed since it started
/// (what it freed of another thread's counts against it), with
/// `alloc-count`: what a test measures a structure by.
pub fn thread_live_bytes() -> Option<i64> {
    #[cfg(feature = "alloc-count")]
    {
        Some(counting::THREAD_LIVE_BYTES.with(std::cell::Cell::get))
    }
    #[cfg(not(feature = "alloc-count"))]
    {
        None
    }
}
