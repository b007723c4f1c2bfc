//! Fuzzes the console client of `ioc attach` and `ioc monitor` with bytes
//! from a hostile procServ: the telnet filter must strip the same bytes
//! however the stream is cut into reads, never grow it, and never stay stuck
//! in a subnegotiation; the keyboard side (`InputMapper`) the same.
//!
//! Input: one byte for the size of the reads, one for the detach key, then
//! the stream (from the console, or typed).
#![no_main]

use iocinit::ioc::attach::{InputMapper, TelnetFilter};
use libfuzzer_sys::fuzz_target;

/// Longest a subnegotiation may swallow (attach.rs's MAX_SUBNEGOTIATION),
/// plus its IAC SB and IAC SE.
const SWALLOW_MAX: usize = 512 + 4;

fn filter_in_reads(stream: &[u8], read: usize) -> Vec<u8> {
    let mut filter = TelnetFilter::default();
    let mut out = Vec::new();
    for chunk in stream.chunks(read) {
        filter.filter(chunk, &mut out);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [read, key, stream @ ..] = data else { return };
    let (read, key) = (*read, Some(*key));
    let read = usize::from(read).max(1);
    let whole = filter_in_reads(stream, stream.len().max(1));
    assert!(whole.len() <= stream.len());
    assert_eq!(filter_in_reads(stream, read), whole, "the output depends on how the stream is read");
    // After any prefix, data that follows is shown again within a bounded
    // number of bytes: a lost SE cannot hide the console for good.
    let mut tail = stream.to_vec();
    tail.extend(std::iter::repeat_n(b'x', SWALLOW_MAX + 2));
    let shown = filter_in_reads(&tail, read);
    assert!(shown.ends_with(b"x"), "the console's output stays hidden");
    // Keyboard input: nothing after the detach key is sent, and the bytes
    // sent do not depend on how they were read.
    let map = |size: usize| {
        let mut mapper = InputMapper::new(key);
        let mut out = Vec::new();
        let mut detached = false;
        for chunk in stream.chunks(size) {
            if mapper.map(chunk, &mut out) {
                detached = true;
                break;
            }
        }
        (out, detached)
    };
    let (sent, detached) = map(read);
    let (sent_whole, detached_whole) = map(stream.len().max(1));
    assert_eq!((&sent, detached), (&sent_whole, detached_whole), "the bytes sent depend on how they were read");
    assert!(!sent.contains(&b'\r'), "CR is sent as LF");
    if let Some(k) = key {
        assert!(detached || !stream.contains(&k));
        assert!(!sent.contains(&k) || k == b'\n');
    }
});
