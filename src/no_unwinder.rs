//! The stack unwinder of the static musl builds: none. It defines the
//! unwinder entry points the linked program refers to, so that the linker
//! takes nothing from libunwind.a (nor musl's `printf` family, which only
//! libunwind's error messages use): 20,688 bytes of the armv7 binary,
//! 33,280 of the x86_64 one, 37 KB of aarch64's sections
//! (docs/ARCHITECTURE.md, "Binary size").
//!
//! Nothing is lost. The build aborts on panic (`panic = "abort"`), so no
//! stack is ever unwound: std's personality routine, which would read a
//! frame's registers and tables, is linked but never runs. And the build has
//! no unwind tables (`-Cforce-unwind-tables=no`), so a walk of the stack
//! would find no frames; its one caller, std's backtrace printer, is linked
//! into the panic hook but never called there: std built without its
//! `backtrace` feature (.cargo/build-static) prints no backtrace, whatever
//! `RUST_BACKTRACE` says. A panic prints the same lines as with libunwind,
//! its message and `file:line:col`, in a build with panic = "abort"
//! (`CARGO_PROFILE_RELEASE_PANIC=abort .cargo/build-static`); the shipped
//! builds' immediate-abort prints none (src/trap.rs). The module is
//! compiled into both: rustc sets `panic = "abort"` for immediate-abort too.
//!
//! Two ABIs: 32-bit ARM unwinds by its EHABI (`_Unwind_VRS_*` for a frame's
//! registers, its own personality routines), x86_64 and aarch64 by the
//! Itanium C++ ABI's DWARF unwinder (`_Unwind_GetIP`, `_Unwind_SetGR`...).
//! Each defines only what its link refers to (found with
//! `-Wl,--trace-symbol=`): a definition nothing refers to would be dead code.
//! Not defined on purpose: `__register_frame_info`, which gcc's crtbeginT.o
//! refers to weakly: left undefined, its start-up code does not register
//! `.eh_frame` with an unwinder there is none of.

use core::ffi::{c_int, c_void};

/// `_Unwind_Reason_Code` (the same in both ABIs): the walk reached the end.
const URC_END_OF_STACK: c_int = 5;

/// Walks no frames: there are no unwind tables to walk with.
#[no_mangle]
extern "C" fn _Unwind_Backtrace(_trace: *mut c_void, _argument: *mut c_void) -> c_int {
    URC_END_OF_STACK
}

/// What a frame's personality routine would read about it: nothing known
/// (there is never a frame).
#[no_mangle]
extern "C" fn _Unwind_GetLanguageSpecificData(_context: *mut c_void) -> usize {
    0
}

#[no_mangle]
extern "C" fn _Unwind_GetRegionStart(_context: *mut c_void) -> usize {
    0
}

#[no_mangle]
extern "C" fn _Unwind_GetTextRelBase(_context: *mut c_void) -> usize {
    0
}

#[no_mangle]
extern "C" fn _Unwind_GetDataRelBase(_context: *mut c_void) -> usize {
    0
}

#[cfg(target_arch = "arm")]
mod ehabi {
    use core::ffi::{c_int, c_void};

    /// `_Unwind_Reason_Code` of the ARM EHABI: the unwind cannot go on.
    const URC_FAILURE: c_int = 9;
    /// `_Unwind_VRS_Result`: the register cannot be read or written.
    const UVRSR_FAILED: c_int = 2;

    /// Reads or writes no register of a frame (there is never a frame).
    #[no_mangle]
    extern "C" fn _Unwind_VRS_Get(
        _context: *mut c_void,
        _class: c_int,
        _register: u32,
        _representation: c_int,
        _value: *mut c_void,
    ) -> c_int {
        UVRSR_FAILED
    }

    #[no_mangle]
    extern "C" fn _Unwind_VRS_Set(
        _context: *mut c_void,
        _class: c_int,
        _register: u32,
        _representation: c_int,
        _value: *mut c_void,
    ) -> c_int {
        UVRSR_FAILED
    }

    /// Unwinding a frame fails: std's personality routine (and, for the few C
    /// objects with exception-index entries, the EHABI's compact-model one)
    /// would be asked to only during an unwind, which never happens.
    #[no_mangle]
    extern "C" fn __gnu_unwind_frame(_exception: *mut c_void, _context: *mut c_void) -> c_int {
        URC_FAILURE
    }

    #[no_mangle]
    extern "C" fn __aeabi_unwind_cpp_pr0(_state: c_int, _exception: *mut c_void, _context: *mut c_void) -> c_int {
        URC_FAILURE
    }
}

/// A frame's instruction pointer and registers, which std's personality
/// routine would read and set to land in a handler: none (there is never a
/// frame, nor a handler with `panic = "abort"`).
#[cfg(not(target_arch = "arm"))]
mod dwarf {
    use core::ffi::{c_int, c_void};

    #[no_mangle]
    extern "C" fn _Unwind_GetIP(_context: *mut c_void) -> usize {
        0
    }

    #[no_mangle]
    extern "C" fn _Unwind_GetIPInfo(_context: *mut c_void, _ip_before_instruction: *mut c_int) -> usize {
        0
    }

    #[no_mangle]
    extern "C" fn _Unwind_SetGR(_context: *mut c_void, _register: c_int, _value: usize) {}

    #[no_mangle]
    extern "C" fn _Unwind_SetIP(_context: *mut c_void, _value: usize) {}
}
