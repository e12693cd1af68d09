//! The fuzzer's global allocator: the system's, refusing any single allocation above [`CAP`].
//! An input that makes a parser ask for that much memory is a finding: the refusal is printed
//! (with the target and case, for a replay) and counted, and the allocation fails (which
//! aborts the process unless the parser asked fallibly).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The largest single allocation a parser may make: 64 MiB, 16× the largest fuzz input (inputs
/// are cut to 4 MiB), several times any allocation the seeds need.
pub const CAP: usize = 64 << 20;

/// Allocations refused so far.
pub static REFUSED: AtomicU64 = AtomicU64::new(0);
/// The case being run (target index, case number), for the refusal message.
pub static TARGET: AtomicUsize = AtomicUsize::new(usize::MAX);
pub static CASE: AtomicU64 = AtomicU64::new(0);

pub struct CappedAlloc;

// SAFETY: every call goes to `System` unchanged, or returns null (a failed allocation) without
// touching memory.
unsafe impl GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > CAP {
            refuse(layout.size());
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's layout, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > CAP {
            refuse(layout.size());
            return std::ptr::null_mut();
        }
        // SAFETY: as `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > CAP {
            refuse(new_size);
            return std::ptr::null_mut();
        }
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Prints the refusal without allocating (this runs inside the allocator).
fn refuse(size: usize) {
    REFUSED.fetch_add(1, Ordering::Relaxed);
    let mut buf = [0u8; 160];
    let mut n = 0;
    let mut put = |bytes: &[u8]| {
        let k = bytes.len().min(buf.len() - n);
        buf[n..n + k].copy_from_slice(&bytes[..k]);
        n += k;
    };
    put(b"marlin-fuzz: refused an allocation of ");
    put(digits(size as u64, &mut [0; 20]));
    put(b" bytes (cap ");
    put(digits(CAP as u64, &mut [0; 20]));
    put(b") in target #");
    put(digits(TARGET.load(Ordering::Relaxed) as u64, &mut [0; 20]));
    put(b", case ");
    put(digits(CASE.load(Ordering::Relaxed), &mut [0; 20]));
    put(b"\n");
    // SAFETY: writes `n` initialised bytes of `buf` to stderr.
    unsafe { libc::write(2, buf.as_ptr().cast(), n) };
}

fn digits(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return &buf[i..];
        }
    }
}
