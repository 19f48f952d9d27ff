//! The doorbell protocol (SHM_LAYOUT.md, "Doorbell protocol").
//!
//! A sequence counter in shared memory is the truth; a byte on the lane's
//! socket is only a hint that wakes a sleeping peer. The notifier rings only
//! when it takes the peer's `waiting` flag, so a hot exchange never touches
//! the socket. Both halves are written against `sync` atomics so the same
//! code is model-checked with loom (`RUSTFLAGS="--cfg loom" cargo test -p
//! gatun-bridge --release doorbell`).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU64};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicU32, AtomicU64};

use std::sync::atomic::Ordering::SeqCst;

/// Publishes `seq` and decides whether the sleeping peer must be woken.
///
/// Returns true when the caller must write one RING byte to the socket: the
/// peer had announced it was about to block, and this call took its flag.
pub fn publish(counter: &AtomicU64, peer_waiting: &AtomicU32, seq: u64) -> bool {
    counter.store(seq, SeqCst);
    // The store above must be globally visible before the flag is read (a
    // store->load "Dekker" pair). The fence says so explicitly, which is also
    // what loom models (it treats SeqCst accesses as AcqRel).
    fence(SeqCst);
    peer_waiting.compare_exchange(1, 0, SeqCst, SeqCst).is_ok()
}

/// What a waiter should do after announcing that it is about to block.
#[derive(Debug, PartialEq, Eq)]
pub enum BeforeBlocking {
    /// The sequence arrived meanwhile: do not block.
    Arrived,
    /// Block on the socket; a RING byte will come.
    Block,
}

/// True once the peer's counter reached `seq`.
pub fn arrived(counter: &AtomicU64, seq: u64) -> bool {
    counter.load(SeqCst) >= seq
}

/// Announces that the caller is about to block waiting for `seq`, then
/// re-checks the counter. The order (store flag, then load counter, both
/// SeqCst, with a SeqCst fence between) is what makes a lost wake-up
/// impossible: see [`publish`].
pub fn prepare_to_block(counter: &AtomicU64, my_waiting: &AtomicU32, seq: u64) -> BeforeBlocking {
    my_waiting.store(1, SeqCst);
    // Pairs with the fence in `publish`: flag store before counter load.
    fence(SeqCst);
    if counter.load(SeqCst) >= seq {
        // Withdraw the announcement. If the notifier already took the flag, a
        // RING byte is on its way; a later wait consumes it as a spurious hint.
        let _ = my_waiting.compare_exchange(1, 0, SeqCst, SeqCst);
        BeforeBlocking::Arrived
    } else {
        BeforeBlocking::Block
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::{Arc, Condvar, Mutex};

    /// A socket reduced to what the protocol needs: a count of unread bytes.
    #[derive(Default)]
    struct Socket {
        bytes: Mutex<u32>,
        readable: Condvar,
    }

    impl Socket {
        fn ring(&self) {
            *self.bytes.lock().unwrap() += 1;
            self.readable.notify_one();
        }
        fn read_one(&self) {
            let mut bytes = self.bytes.lock().unwrap();
            while *bytes == 0 {
                bytes = self.readable.wait(bytes).unwrap();
            }
            *bytes -= 1;
        }
    }

    /// The shared state of one lane direction, and a notifier thread that
    /// publishes messages 1 and 2 (ringing when the waiter asked for it).
    #[allow(clippy::type_complexity)]
    fn two_exchanges() -> (
        Arc<AtomicU64>,
        Arc<AtomicU32>,
        Arc<Socket>,
        loom::thread::JoinHandle<()>,
    ) {
        let counter = Arc::new(AtomicU64::new(0));
        let waiting = Arc::new(AtomicU32::new(0));
        let socket = Arc::new(Socket::default());
        let (c, w, s) = (counter.clone(), waiting.clone(), socket.clone());
        let notifier = loom::thread::spawn(move || {
            for seq in 1..=2 {
                if publish(&c, &w, seq) {
                    s.ring();
                }
            }
        });
        (counter, waiting, socket, notifier)
    }

    fn wait(counter: &AtomicU64, waiting: &AtomicU32, socket: &Socket, seq: u64) {
        loop {
            if arrived(counter, seq) {
                return;
            }
            if prepare_to_block(counter, waiting, seq) == BeforeBlocking::Arrived {
                return;
            }
            socket.read_one();
        }
    }

    /// The event-loop waiter (`Lane::poll_for`): it consumes every byte there
    /// without blocking, checks the counter, announces itself, and only then
    /// waits for the socket to become readable. After an announcement that
    /// returned `Block`, a byte must come (else loom reports a deadlock), and
    /// bytes left from the first exchange cannot hide the second.
    #[test]
    fn event_loop_waiter_is_always_rung() {
        loom::model(|| {
            let (counter, waiting, socket, notifier) = two_exchanges();
            for seq in 1..=2 {
                loop {
                    *socket.bytes.lock().unwrap() = 0; // drain
                    if arrived(&counter, seq) {
                        let _ = waiting.compare_exchange(1, 0, SeqCst, SeqCst);
                        break;
                    }
                    if prepare_to_block(&counter, &waiting, seq) == BeforeBlocking::Arrived {
                        break;
                    }
                    socket.read_one(); // "readable": the loop calls poll again
                }
            }
            notifier.join().unwrap();
        });
    }

    /// Two exchanges in a row: the waiter can never sleep through a request.
    #[test]
    fn no_lost_wakeup() {
        loom::model(|| {
            let (counter, waiting, socket, notifier) = two_exchanges();
            wait(&counter, &waiting, &socket, 1);
            wait(&counter, &waiting, &socket, 2);
            notifier.join().unwrap();
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn publish_rings_only_a_waiting_peer() {
        let counter = AtomicU64::new(0);
        let waiting = AtomicU32::new(0);
        assert!(!publish(&counter, &waiting, 1));
        assert_eq!(
            prepare_to_block(&counter, &waiting, 2),
            BeforeBlocking::Block
        );
        assert!(publish(&counter, &waiting, 2));
        assert_eq!(waiting.load(SeqCst), 0, "the notifier takes the flag");
        assert!(arrived(&counter, 2));
    }

    #[test]
    fn a_late_arrival_is_seen_before_blocking() {
        let counter = AtomicU64::new(3);
        let waiting = AtomicU32::new(0);
        assert_eq!(
            prepare_to_block(&counter, &waiting, 3),
            BeforeBlocking::Arrived
        );
        assert_eq!(waiting.load(SeqCst), 0, "the announcement is withdrawn");
    }
}
