//! What meshpack asks of its allocator (mimalloc, `main.rs`), in one place:
//! when freed memory goes back to the kernel. A compile frees as much as
//! it allocates next, so it keeps what it frees; a validation keeps most
//! of what it allocates to the end, so it gives back what a stage freed
//! before the next stage's peak sits on top of it. (Purging every free at
//! once, `purge_delay` 0, took a validation of a million objects 3-6 MB
//! lower for 2.5 s more system time, 7% of its CPU: not kept.)
//!
//! Invariant: these only move memory between mimalloc and the kernel;
//! nothing allocated is touched. With the `system-alloc` feature they do
//! nothing.
//! <https://microsoft.github.io/mimalloc/group__options.html>

/// mimalloc's `mi_option_purge_delay` (its place in `mi_option_t`,
/// mimalloc.h of v2 and v3 alike; the Rust bindings name no constant for it).
#[cfg(not(feature = "system-alloc"))]
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn set_purge_delay(_ms: std::os::raw::c_long) {
    #[cfg(not(feature = "system-alloc"))]
    // SAFETY: sets one integer option; mimalloc reads it when it would purge.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, _ms);
    }
}

/// Never return freed ranges to the kernel (mimalloc returns them a second
/// after they are freed, `purge_delay`), so the next phase does not fault
/// them in again, each page zeroed anew.
pub(crate) fn keep_freed_memory() {
    set_purge_delay(-1);
}

/// Give back now what the heaps hold free: the calling thread's, and those
/// of threads that have ended (`mi_collect(true)`). mimalloc otherwise
/// keeps free pages for a while, and a thread does not reuse another's.
/// <https://microsoft.github.io/mimalloc/group__extended.html>
pub(crate) fn give_back_freed_memory() {
    #[cfg(not(feature = "system-alloc"))]
    // SAFETY: a collection of the allocator's own free lists.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
}
