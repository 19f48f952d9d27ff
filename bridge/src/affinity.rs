//! Moving the calling thread off the core it shares with its peer.
//!
//! On a machine with few cores the scheduler sometimes puts the Python
//! caller and the JVM worker on one core (a wake-up places a thread next to
//! its waker) and leaves them there while the other core idles: both are
//! always runnable and "cache hot", so the load balancer waits several of
//! its periods (tens of milliseconds) before it moves one. Every call then
//! costs two context switches. A thread can end that at once by leaving
//! its core: narrowing its own affinity to the other allowed cores makes the
//! kernel migrate it immediately, and restoring the mask right after does
//! not move it back.

/// Migrates the calling thread to another of the cores it may run on, and
/// restores its affinity mask. Returns the cores it moved from and to (the
/// latter seen while the former was excluded), or `None`, doing nothing,
/// where that is not possible: one allowed core, more cores than `cpu_set_t`
/// holds, or a platform without thread affinity.
#[cfg(target_os = "linux")]
pub fn move_off_current_core() -> Option<(usize, usize)> {
    use std::mem::{size_of, zeroed};
    // SAFETY: plain syscalls on the calling thread (pid 0) with a
    // stack-allocated, correctly sized cpu_set_t.
    unsafe {
        let cpu = libc::sched_getcpu();
        if cpu < 0 {
            return None;
        }
        let cpu = cpu as usize;
        let mut allowed: libc::cpu_set_t = zeroed();
        if libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut allowed) != 0
            || libc::CPU_COUNT(&allowed) < 2
            || !libc::CPU_ISSET(cpu, &allowed)
        {
            return None;
        }
        let mut others = allowed;
        libc::CPU_CLR(cpu, &mut others);
        if libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &others) != 0 {
            return None;
        }
        let now_on = libc::sched_getcpu();
        // Now on another core; widening the mask again does not migrate.
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &allowed);
        Some((cpu, usize::try_from(now_on).ok()?))
    }
}

/// See the Linux version: other platforms do not expose thread affinity.
#[cfg(not(target_os = "linux"))]
pub fn move_off_current_core() -> Option<(usize, usize)> {
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_mask_is_restored_after_a_move() {
        use std::mem::{size_of, zeroed};
        let read_mask = || unsafe {
            let mut m: libc::cpu_set_t = zeroed();
            assert_eq!(
                libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut m),
                0
            );
            m
        };
        let before = read_mask();
        let cores = unsafe { libc::CPU_COUNT(&before) };
        let moved = move_off_current_core();
        assert_eq!(
            moved.is_some(),
            cores >= 2,
            "moves exactly when another core is allowed"
        );
        if let Some((from, to)) = moved {
            assert_ne!(to, from, "left its core");
            assert!(
                unsafe { libc::CPU_ISSET(to, &before) },
                "to an allowed core"
            );
        }
        let after = read_mask();
        assert!(unsafe { libc::CPU_EQUAL(&before, &after) }, "mask restored");
    }
}
