//! Counters of what the Arrow plane did (batches, bytes copied or kept in
//! place, JVM regions held and released), so tests and benchmarks can tell
//! the copy path from the zero-copy path.

/// Counters of what the send path did, so tests and benchmarks can tell the
/// copy path from the zero-copy path.
#[derive(Debug, Default)]
pub struct TransferStats {
    /// Batches prepared.
    pub batches: std::sync::atomic::AtomicU64,
    /// Bytes copied into the arena.
    pub bytes_copied: std::sync::atomic::AtomicU64,
    /// Bytes referenced in place (already in the arena).
    pub bytes_in_place: std::sync::atomic::AtomicU64,
    /// JVM regions Python holds (Arrow data received and still referenced).
    pub jvm_regions_held: std::sync::atomic::AtomicU64,
    /// Release notices sent to the JVM for its regions.
    pub jvm_releases_sent: std::sync::atomic::AtomicU64,
    /// Bytes of JVM data copied on arrival (its arena was above the
    /// high-water mark), so its regions could be released at once.
    pub bytes_copied_out: std::sync::atomic::AtomicU64,
    /// Bytes of regions of our own that the JVM returned (data Python had
    /// sent, handed back in place rather than copied).
    pub bytes_handed_back: std::sync::atomic::AtomicU64,
}
