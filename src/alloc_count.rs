//! A counting global allocator, compiled in only with the `alloc-count`
//! feature (tests use it to prove that the steady-state loop of PID 1 makes
//! no heap allocation). `iocinit version` reports the count when present.

#[cfg(feature = "alloc-count")]
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;
    use std::sync::atomic::{AtomicU64, Ordering};

    pub static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

    thread_local! {
        // Const-initialised, no destructor: reading it never allocates.
        pub static THREAD_ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    }

    fn count() {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        let _ = THREAD_ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    }

    pub struct Counting;

    // SAFETY: forwards to the system allocator; only counts.
    #[allow(unsafe_code)]
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            count();
            System.alloc(layout)
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            System.dealloc(ptr, layout)
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            count();
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
