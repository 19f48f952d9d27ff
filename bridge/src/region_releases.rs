//! Region releases: notices for the JVM's regions that Python no longer
//! references, and acknowledgements of decoded answers, waiting for the
//! Python -> Java release ring. Pushed from any thread (a Python buffer's
//! last reference can die anywhere); moved onto the ring before every
//! request. Not to be confused with [`crate::object_releases`], the ids of
//! dead Java object proxies.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use gatun_arena::Segment;

use crate::layout;
use crate::release_ring::ReleaseRing;

/// Region handles (and acknowledgement notices) waiting for the ring.
#[derive(Default)]
pub struct RegionReleases {
    pending: Mutex<Vec<u64>>,
    len: AtomicUsize,
}

impl RegionReleases {
    /// Queues the release of the JVM region `handle`.
    pub fn push(&self, handle: u64) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.push(handle);
        self.len.store(pending.len(), Ordering::Release);
    }

    /// Queues the acknowledgement of answer `seq` of lane `lane`, which we
    /// have decoded (see [`crate::control::RESP_FLAG_NEEDS_ACK`]); it rides
    /// the release ring like a release of segment 0.
    pub fn push_ack(&self, lane: usize, seq: u64) {
        self.push(crate::control::ack_notice(lane, seq));
    }

    /// Notices waiting.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// True if nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Moves as many notices onto `ring` as it takes; returns how many of
    /// them released a region (acknowledgements release nothing).
    pub fn flush(&self, ring: &ReleaseRing) -> usize {
        if self.is_empty() {
            return 0;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let sent = pending.iter().take_while(|&&h| ring.push(h, 1)).count();
        // Acknowledgements (segment 0) ride the same ring but release nothing.
        let releases = pending[..sent]
            .iter()
            .filter(|&&h| h >> layout::HANDLE_SEGMENT_SHIFT != 0)
            .count();
        pending.drain(..sent);
        self.len.store(pending.len(), Ordering::Release);
        releases
    }
}

/// One region of a JVM-owned segment, referenced by Arrow buffers here. When
/// the last buffer goes, its handle is queued for release.
pub(crate) struct PeerRegion {
    pub(crate) handle: u64,
    pub(crate) releases: Arc<RegionReleases>,
    /// The count of JVM regions held (`TransferStats::jvm_regions_held`).
    pub(crate) held: Arc<crate::transfer_stats::TransferStats>,
    // Keeps the mapping alive while buffers point into it.
    pub(crate) _segment: Arc<Segment>,
}

impl Drop for PeerRegion {
    fn drop(&mut self) {
        self.held.jvm_regions_held.fetch_sub(1, Ordering::Relaxed);
        self.releases.push(self.handle);
    }
}
