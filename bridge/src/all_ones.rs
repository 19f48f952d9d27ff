//! A shared all-valid validity bitmap for arrays sent without one.
//!
//! An Arrow array with no nulls usually has no validity bitmap. Arrow Java's
//! loader then allocates one and sets every bit (`BitVectorHelper.
//! loadValidityBuffer`): work in proportion to the rows, on every batch,
//! which makes a batch built in the arena cost more the larger it is. Given a
//! bitmap, Java keeps it. So large arrays without one are sent with a slice
//! of one region of set bits, made once per session and shared by every such
//! array. Received buffers are read-only by contract
//! (`ArrowBridge` Javadoc): a Java `setNull` on such a vector would change
//! the others that share it.

use std::sync::Mutex;

use gatun_arena::{Arena, Region};

/// Arrays with at least this many rows get the shared bitmap; below it
/// Java's own bitmap costs less than one more region in the descriptor.
pub const SHARED_VALIDITY_MIN_ROWS: usize = 1 << 16;

/// The session's region of set bits, grown on demand.
#[derive(Default)]
pub struct AllOnes {
    region: Mutex<Option<Region>>,
}

impl AllOnes {
    /// A region of at least `bytes` bytes, every bit set, with one local
    /// reference for the caller to release; `None` if the arena has no room
    /// (the array then goes without a bitmap, as before).
    pub fn lease(&self, arena: &Arena, bytes: usize) -> Option<Region> {
        let mut current = self.region.lock().unwrap_or_else(|e| e.into_inner());
        let region = match *current {
            Some(r) if r.len >= bytes => r,
            _ => {
                let fresh = arena
                    // At the top of a free range: a cache that lives for the
                    // session must not split the space large batches need.
                    .allocate_high(bytes.next_power_of_two().max(64 << 10))
                    .ok()?;
                // SAFETY: a fresh region is ours alone and `len` bytes long.
                unsafe { std::ptr::write_bytes(fresh.ptr, 0xFF, fresh.len) };
                if let Some(old) = current.replace(fresh) {
                    // Batches still in Java keep their holds on the old one.
                    arena.release_local(old.handle);
                }
                fresh
            }
        };
        // Taken under the lock, so a concurrent grow cannot free it first.
        arena.retain_local(region.handle);
        Some(region)
    }

    /// Lets go of the cached region (the session is closing); batches that
    /// still use it keep their own references.
    pub fn clear(&self, arena: &Arena) {
        let taken = self.region.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(region) = taken {
            arena.release_local(region.handle);
        }
    }

    /// The shared region when only this cache holds it (no batch in Java
    /// uses it), so "regions in use" can leave it out.
    pub fn idle(&self, arena: &Arena) -> Option<Region> {
        let current = self.region.lock().unwrap_or_else(|e| e.into_inner());
        current.filter(|r| arena.peer_holds(r.handle) == Some(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatun_arena::ArenaConfig;

    fn arena() -> Arena {
        Arena::new(ArenaConfig {
            segment_size: 1 << 20,
            max_memory: 64 << 20,
            place: gatun_arena::SegmentPlace::Memfd {
                fallback_dir: std::env::temp_dir(),
            },
            first_segment_id: 1,
        })
    }

    fn all_set(r: &Region) -> bool {
        // SAFETY: a live region of `len` bytes.
        unsafe { std::slice::from_raw_parts(r.ptr, r.len) }
            .iter()
            .all(|&b| b == 0xFF)
    }

    #[test]
    fn grows_on_demand_and_frees_the_old_region_when_unheld() {
        let (arena, ones) = (arena(), AllOnes::default());
        let small = ones.lease(&arena, 100).unwrap();
        assert!(small.len >= 100 && all_set(&small));
        arena.add_peer_hold(small.handle);
        arena.release_local(small.handle);
        assert!(ones.idle(&arena).is_none(), "a batch in the peer holds it");

        let again = ones.lease(&arena, 50).unwrap();
        assert_eq!(again.handle, small.handle, "big enough: reused");
        arena.release_local(again.handle);

        let big = ones.lease(&arena, 3 << 20).unwrap();
        assert!(big.len >= 3 << 20 && all_set(&big));
        arena.release_local(big.handle);
        assert_eq!(arena.live_regions(), 2, "the peer still holds the old one");
        arena.peer_released(small.handle, 1);
        assert_eq!(arena.live_regions(), 1, "the old one is freed");
        assert_eq!(ones.idle(&arena).map(|r| r.handle), Some(big.handle));
    }
}
