//! The stack unwinder of the static armv7 build: none. It defines the
//! unwinder entry points the linked program refers to, so that the linker
//! takes nothing from libunwind.a (nor musl's `printf` family, which only
//! libunwind's error messages use): 18 KB of the binary
//! (docs/ARCHITECTURE.md, "Binary size").
//!
//! Nothing is lost. The build aborts on panic (`panic = "abort"`), so no
//! stack is ever unwound: std's personality routine, which would read a
//! frame's registers and tables, is linked but never runs. And the build has
//! no unwind tables (`-Cforce-unwind-tables=no`), so a walk of the stack had
//! no frames to find: its one caller, std's backtrace printer
//! (`RUST_BACKTRACE` set), found none before and finds none now. A panic
//! prints the same lines as with libunwind, its message and
//! `file:line:col`; tests/size/run checks that, with and without
//! `RUST_BACKTRACE`.

use core::ffi::{c_int, c_void};

/// `_Unwind_Reason_Code` of the ARM EHABI: the walk reached the end.
const URC_END_OF_STACK: c_int = 5;
/// `_Unwind_Reason_Code`: the unwind cannot go on.
const URC_FAILURE: c_int = 9;
/// `_Unwind_VRS_Result`: the register cannot be read or written.
const UVRSR_FAILED: c_int = 2;

/// Walks no frames: there are no unwind tables to walk with.
#[no_mangle]
extern "C" fn _Unwind_Backtrace(_trace: *mut c_void, _argument: *mut c_void) -> c_int {
    URC_END_OF_STACK
}

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

/// What a frame's personality routine would read about it: nothing known.
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
