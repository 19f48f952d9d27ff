//! The spinning policy of a waiting lane: how long to spin before blocking
//! on the doorbell socket ([`WaitStrategy`] and its budgets), and, when the
//! two peers share a core, moving the JVM worker to another (SHM_LAYOUT.md,
//! "Spinning"). The waiting itself is [`crate::lane::Lane::wait`].

use std::io::Read;
use std::time::Duration;

/// How a waiter spends the time before blocking on the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WaitStrategy {
    /// Spin while the JVM is hot (it is spinning itself, or answered quickly
    /// within the last spin budget),
    /// with a budget that halves after each miss and doubles after each hit.
    #[default]
    Adaptive,
    /// Always spin the full budget first.
    Spin,
    /// Always spin, but halve the budget after each miss.
    Backoff,
    /// Never spin: block at once (lowest CPU, one wake-up per reply).
    Block,
}

impl std::str::FromStr for WaitStrategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "adaptive" => Ok(WaitStrategy::Adaptive),
            "spin" => Ok(WaitStrategy::Spin),
            "backoff" => Ok(WaitStrategy::Backoff),
            "block" => Ok(WaitStrategy::Block),
            other => Err(format!(
                "unknown doorbell strategy {other:?}; expected adaptive, spin, backoff or block"
            )),
        }
    }
}

/// Shortest spin budget after repeated misses.
pub(crate) const MIN_SPIN: Duration = Duration::from_micros(1);

/// How often a blocked waiter wakes to check signals.
pub(crate) const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(100);
/// Longest spin before blocking, about one thread wake-up.
pub(crate) const SPIN_BUDGET: Duration = Duration::from_micros(100);
/// After this long a spinning waiter yields its core between checks. When
/// the scheduler has put both peers on one core (it does, now and then, on
/// a machine with few cores), a pure spin keeps the peer from running until
/// the spin ends and the waiter blocks: a stall of one budget plus one
/// wake-up. A yield lets the peer run at once; with a core to itself it
/// returns immediately.
pub(crate) const YIELD_AFTER: Duration = Duration::from_micros(5);
/// A yield that takes this long ran another thread on this core. While the
/// peers share a core (until the scheduler moves one, often milliseconds),
/// every spin before a yield is time the other cannot run: a call cost
/// 15-20 µs instead of ~4. So a waiter whose last wait gave its core away
/// yields at once; a yield that returns at once (a core of its own again)
/// brings back the spin.
pub(crate) const YIELD_GAVE_CORE: Duration = Duration::from_micros(2);

/// Consecutive answers caught while giving the core away before the JVM
/// worker is moved: a run of short calls sharing a core, not one long wait
/// whose yields ran other threads of the JVM.
pub(crate) const SHARED_HITS_BEFORE_MOVING: u32 = 2;
/// A request sent within this time of the last answer continues a run of
/// calls. Only such runs move the JVM worker: between calls that have Python
/// work between them (reading a large Arrow reply, say) the peers sharing a
/// core costs little, and a worker spinning on the other core can slow that
/// work where the two cores are siblings on the host.
pub(crate) const BACK_TO_BACK: Duration = Duration::from_micros(20);
/// Shortest time between two moves of the JVM worker.
pub(crate) const MOVE_AT_MOST_EVERY: Duration = Duration::from_millis(1);

/// Moves thread `tid` to another core it may run on, leaving its affinity as
/// it was: narrowing its mask to exclude this core moves it at once, and
/// restoring the mask does not move it back.
#[cfg(target_os = "linux")]
pub(crate) fn move_off_this_core(tid: i32) {
    // SAFETY: plain syscalls with a cpu_set_t we own.
    unsafe {
        let cpu = libc::sched_getcpu();
        let mut allowed: libc::cpu_set_t = std::mem::zeroed();
        let size = std::mem::size_of::<libc::cpu_set_t>();
        if cpu < 0
            || libc::sched_getaffinity(tid, size, &mut allowed) != 0
            || libc::CPU_COUNT(&allowed) < 2
            || !libc::CPU_ISSET(cpu as usize, &allowed)
        {
            return;
        }
        let mut elsewhere = allowed;
        libc::CPU_CLR(cpu as usize, &mut elsewhere);
        if libc::sched_setaffinity(tid, size, &elsewhere) == 0 {
            libc::sched_setaffinity(tid, size, &allowed);
        }
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn move_off_this_core(_tid: i32) {}

/// Whether no thread is runnable on the machine but this one and the peer
/// sharing its core (`/proc/loadavg`'s running count, taken now), so that a
/// core is idle to move the peer to.
pub(crate) fn no_other_thread_runs() -> bool {
    // Read into the stack: a call must not allocate (test_allocations.py).
    let mut buf = [0u8; 128];
    let Ok(n) = std::fs::File::open("/proc/loadavg").and_then(|mut f| f.read(&mut buf)) else {
        return false;
    };
    std::str::from_utf8(&buf[..n])
        .ok()
        .and_then(running_threads)
        .is_some_and(|n| n <= 2)
}

/// The running count of a `/proc/loadavg` line: "0.52 0.58 0.59 2/467 12345"
/// has 2 threads runnable now, of 467.
fn running_threads(loadavg: &str) -> Option<u32> {
    let field = loadavg.split_whitespace().nth(3)?;
    field.split_once('/')?.0.parse().ok()
}

#[cfg(all(test, target_os = "linux", not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
    use std::sync::Arc;

    /// The core thread `tid` of this process last ran on.
    fn cpu_of(tid: i32) -> usize {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        fields[36].parse().unwrap() // field 39, "processor"
    }

    fn affinity(tid: i32) -> libc::cpu_set_t {
        // SAFETY: a cpu_set_t we own.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            assert_eq!(
                libc::sched_getaffinity(tid, std::mem::size_of_val(&set), &mut set),
                0
            );
            set
        }
    }

    fn set_affinity(tid: i32, set: &libc::cpu_set_t) {
        // SAFETY: as above.
        assert_eq!(
            unsafe { libc::sched_setaffinity(tid, std::mem::size_of_val(set), set) },
            0
        );
    }

    fn only(cpu: usize) -> libc::cpu_set_t {
        // SAFETY: as above.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            set
        }
    }

    #[test]
    fn the_running_count_is_read_from_loadavg() {
        assert_eq!(running_threads("0.52 0.58 0.59 2/467 12345\n"), Some(2));
        assert_eq!(running_threads("0.00 0.01 0.05 13/1024 1"), Some(13));
        assert_eq!(running_threads("0.52 0.58 0.59"), None);
        assert_eq!(running_threads("0.52 0.58 0.59 x/467 1"), None);
        // This test's own thread is running.
        let now = std::fs::read_to_string("/proc/loadavg").unwrap();
        assert!(running_threads(&now).unwrap() >= 1);
    }

    #[test]
    fn a_peer_moved_off_this_core_runs_on_another_with_its_affinity_unchanged() {
        let allowed = affinity(0);
        // SAFETY: reading a set we own; the current CPU.
        let (count, here) = unsafe { (libc::CPU_COUNT(&allowed), libc::sched_getcpu() as usize) };
        if count < 2 {
            return; // nowhere to move to
        }
        let mine = affinity(0);
        set_affinity(0, &only(here));
        let (tid, stop) = (
            Arc::new(AtomicI32::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let spinner = {
            let (tid, stop) = (tid.clone(), stop.clone());
            std::thread::spawn(move || {
                // SAFETY: gettid has no preconditions.
                tid.store(unsafe { libc::gettid() }, Ordering::SeqCst);
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        };
        while tid.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        let peer = tid.load(Ordering::SeqCst);
        // The peer runs on this core, with its affinity as wide as it was;
        // this thread sleeps, so nothing makes the scheduler move the peer.
        // (Other tests running meanwhile may make the scheduler move it:
        // then it is put back and left again.)
        let mut settled = false;
        for _ in 0..20 {
            set_affinity(peer, &only(here));
            set_affinity(peer, &allowed);
            std::thread::sleep(Duration::from_millis(20));
            if cpu_of(peer) == here {
                settled = true;
                break;
            }
        }
        assert!(settled, "the peer never stayed on core {here}");

        // The move is done when the call returns (the kernel migrates a
        // thread off a core its new mask leaves out before answering).
        move_off_this_core(peer);
        let moved_to = cpu_of(peer);
        let kept_mask = affinity(peer);
        stop.store(true, Ordering::Relaxed);
        spinner.join().unwrap();
        set_affinity(0, &mine);
        assert_ne!(moved_to, here, "the peer still runs on core {here}");
        // SAFETY: comparing sets we own.
        assert!(
            unsafe { libc::CPU_EQUAL(&kept_mask, &allowed) },
            "the peer's affinity changed"
        );
    }
}
