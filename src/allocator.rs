//! mimalloc's settings for the server, made once at start
//! (`cli::main`), measured in docs/benchmarks.md ("Idle memory"):
//!
//! - **no transparent huge pages** (`allow_thp` 0): with THP mimalloc's
//!   arena is backed by 2 MiB pages, which stay resident as long as one
//!   small block in them lives, and its purges work in 2 MiB steps;
//! - **purge at once** (`purge_delay` 0): freed pages go back to the
//!   system when they are freed, not one second later at the thread's
//!   next allocation — which an idle thread never makes, so start-up's
//!   argon2 buffers (19 MiB per hash) stayed resident.
//!
//! A `MIMALLOC_*` environment variable for the same option wins, so either
//! can be measured the other way without a rebuild.

use std::ffi::{c_int, c_long};

unsafe extern "C" {
    fn mi_option_set(option: c_int, value: c_long);
    #[cfg(test)]
    fn mi_option_get(option: c_int) -> c_long;
}

/// Positions in mimalloc 3.3's `mi_option_t` (`mimalloc.h`); the test
/// below checks them against the defaults, so a version that moves them fails it.
const PURGE_DELAY: c_int = 15;
const ALLOW_THP: c_int = 43;

/// Applies the settings above, except where the environment names one.
pub fn tune() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: mimalloc's documented option setter, with an option it defines.
        unsafe { mi_option_set(PURGE_DELAY, 0) };
    }
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // mimalloc reads `allow_thp` when it starts, before `main`, so
        // setting the option now is too late for the arena it has reserved;
        // the process-wide switch applies at the next page fault.
        // SAFETY: mimalloc's option setter; prctl with a documented flag.
        unsafe {
            mi_option_set(ALLOW_THP, 0);
            libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        }
    }
}

/// The value mimalloc uses for an option now.
#[cfg(test)]
fn get(option: c_int) -> c_long {
    // SAFETY: reads an option mimalloc defines.
    unsafe { mi_option_get(option) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_numbers_are_mimallocs() {
        // Defaults of mimalloc 3.3 (or the environment's value, when the test runs with one).
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(get(PURGE_DELAY), 1000, "purge_delay moved in mi_option_t");
        }
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
            assert_eq!(get(ALLOW_THP), 1, "allow_thp moved in mi_option_t");
        }
    }
}
