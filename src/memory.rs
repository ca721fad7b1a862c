//! The process heap between queries.
//!
//! DataFusion's memory pool counts what operators reserve; the process's resident memory is that
//! plus what the allocator keeps after it is freed. glibc's malloc keeps freed memory in the
//! arena of the thread that freed it (up to eight arenas per core) and returns little of it to
//! the system, so a run's resident memory climbed to what its largest models had used and stayed
//! there: at 10M leads under `--memory-limit 2GiB`, 1.5-1.9 GB was held between models, on top of
//! which each model's own peak came (2.74 GB at the end). Two glibc settings bound that (measured
//! with `tests/bench/RESULTS.md`'s 10M run):
//!
//! - [`limit_arenas`]: two arenas, so memory freed by one worker thread is reused by the others
//!   (the same as `MALLOC_ARENA_MAX=2`, which alone took the peak from 2.74 to 2.43 GB at the same
//!   speed);
//! - [`release_free_memory`]: `malloc_trim(0)` after each model and data test, so freed pages go
//!   back to the system instead of adding to the next model's peak.
//!
//! Both are no-ops on other C libraries (musl, macOS), whose allocators behave differently.

/// Limits glibc's malloc to two arenas. Call once, first thing in `main`.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[expect(
        unsafe_code,
        reason = "mallopt is glibc's documented, thread-safe way to set M_ARENA_MAX; it takes two \
                  integers and touches no Rust memory"
    )]
    // SAFETY: mallopt has no preconditions; an unknown parameter or value only returns 0.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Returns the heap's free memory to the system (glibc: `malloc_trim(0)`, which also releases free
/// pages inside the heap, not only at its top).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[expect(
        unsafe_code,
        reason = "malloc_trim is glibc's documented, thread-safe call to give free heap pages back; \
                  it takes a size and touches no Rust memory"
    )]
    // SAFETY: malloc_trim has no preconditions and is thread-safe (it locks each arena in turn).
    unsafe {
        libc::malloc_trim(0);
    }
}
