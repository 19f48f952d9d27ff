//! Object releases: the ids of Java objects whose proxies died, queued until
//! they ride on the next request (`Request.release_ids`). Not to be confused
//! with [`crate::region_releases`], the payload regions given back through
//! the release rings.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::BridgeError;

/// Most released ids piggybacked on one request.
pub const MAX_RELEASES_PER_MESSAGE: usize = 8192;

/// Ids of Java objects whose proxies died, waiting to ride the next request.
#[derive(Debug, Default)]
pub struct ObjectReleases {
    queued: Mutex<Queued>,
    len: AtomicUsize,
}

#[derive(Debug, Default)]
struct Queued {
    ids: Vec<i64>,
    /// The buffer the last [`TakenReleases`] gave back, so that taking ids
    /// (once per request) allocates nothing.
    spare: Vec<i64>,
}

/// Ids taken from a [`ObjectReleases`] for one request; dropping it gives its
/// buffer back to the queue for the next request.
#[derive(Debug)]
pub struct TakenReleases {
    ids: Vec<i64>,
    queue: Option<Arc<ObjectReleases>>,
}

impl std::ops::Deref for TakenReleases {
    type Target = [i64];
    fn deref(&self) -> &[i64] {
        &self.ids
    }
}

impl Drop for TakenReleases {
    fn drop(&mut self) {
        let Some(queue) = &self.queue else { return };
        if self.ids.capacity() == 0 || self.ids.capacity() > MAX_RELEASES_PER_MESSAGE {
            return;
        }
        let mut queued = queue.queued.lock().unwrap_or_else(|e| e.into_inner());
        if queued.spare.capacity() == 0 {
            self.ids.clear();
            queued.spare = std::mem::take(&mut self.ids);
        }
    }
}

impl ObjectReleases {
    /// Queues one id; never blocks on I/O.
    pub fn push(&self, id: i64) {
        let mut queued = self.queued.lock().unwrap_or_else(|e| e.into_inner());
        queued.ids.push(id);
        self.len.store(queued.ids.len(), Ordering::Relaxed);
    }

    /// Ids waiting.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// True if nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes up to `max` ids (the newest), into the buffer the previous
    /// taker gave back.
    pub fn take(self: &Arc<Self>, max: usize) -> TakenReleases {
        if self.is_empty() {
            return TakenReleases {
                ids: Vec::new(),
                queue: None,
            };
        }
        let mut queued = self.queued.lock().unwrap_or_else(|e| e.into_inner());
        let keep = queued.ids.len().saturating_sub(max);
        let mut taken = std::mem::take(&mut queued.spare);
        taken.extend_from_slice(&queued.ids[keep..]);
        queued.ids.truncate(keep);
        self.len.store(queued.ids.len(), Ordering::Relaxed);
        TakenReleases {
            ids: taken,
            queue: Some(self.clone()),
        }
    }

    /// Puts ids back if `err` says the request carrying them never left
    /// (it did not fit the slot); after any other failure the JVM may have
    /// applied them.
    pub fn restore_if_unsent(&self, err: &BridgeError, taken: TakenReleases) {
        if matches!(err, BridgeError::TooLarge { .. }) {
            self.restore(taken);
        }
    }

    /// Puts ids back after a failed send.
    pub fn restore(&self, taken: TakenReleases) {
        if taken.is_empty() {
            return;
        }
        let mut queued = self.queued.lock().unwrap_or_else(|e| e.into_inner());
        queued.ids.extend_from_slice(&taken);
        self.len.store(queued.ids.len(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_releases_take_the_newest_and_restore() {
        let q = Arc::new(ObjectReleases::default());
        for id in 1..=5 {
            q.push(id);
        }
        let taken = q.take(2);
        assert_eq!(&*taken, &[4, 5]);
        assert_eq!(q.len(), 3);
        q.restore(taken);
        assert_eq!(q.take(100).len(), 5);
        assert!(q.is_empty());
    }

    /// A taken buffer comes back for the next request: taking ids again
    /// reuses it instead of allocating.
    #[test]
    fn taken_releases_give_their_buffer_back() {
        let q = Arc::new(ObjectReleases::default());
        q.push(1);
        let first = q.take(10);
        let buffer = first.as_ptr();
        drop(first);
        q.push(2);
        let second = q.take(10);
        assert_eq!(&*second, &[2]);
        assert_eq!(second.as_ptr(), buffer, "the buffer was not reused");
    }
}
