//! Copying a batch's buffers into the arena: once, on the calling thread
//! when small, else split across a few threads (one core cannot saturate
//! memory bandwidth).

/// One buffer to copy into the arena.
pub(crate) struct Copy<'a> {
    pub(crate) from: &'a [u8],
    pub(crate) to: *mut u8,
}

/// Copies at least this many bytes on more than one thread.
const PARALLEL_COPY_MIN: usize = 8 << 20;

/// Performs `copies` (`total` bytes): on the calling thread when small, else
/// split into equal byte ranges across the machine's cores (at most 4), since
/// one core cannot saturate memory bandwidth.
///
/// # Safety
/// Each `to` must be valid for `from.len()` bytes of writes, and no
/// destination range may overlap another or any source.
pub(crate) unsafe fn copy_all(copies: &[Copy<'_>], total: usize) {
    // Asked once: on Linux the answer reads cgroup files.
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let threads =
        *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(4)));
    if total < PARALLEL_COPY_MIN || threads < 2 {
        for c in copies {
            // SAFETY: the caller's contract.
            unsafe { std::ptr::copy_nonoverlapping(c.from.as_ptr(), c.to, c.from.len()) };
        }
        return;
    }
    // Cut the sequence of copies into `threads` runs of about equal bytes,
    // splitting a buffer across runs where needed.
    let share = total.div_ceil(threads);
    let mut runs: Vec<Vec<(usize, usize, usize)>> = vec![Vec::new()]; // (copy, start, len)
    let mut room = share;
    for (i, c) in copies.iter().enumerate() {
        let mut start = 0;
        while start < c.from.len() {
            if room == 0 {
                runs.push(Vec::new());
                room = share;
            }
            let len = (c.from.len() - start).min(room);
            runs.last_mut().expect("one run").push((i, start, len));
            start += len;
            room -= len;
        }
    }
    /// Raw destinations crossing to the copy threads.
    struct Dest(*mut u8);
    // SAFETY: each thread writes a disjoint range (the caller's contract).
    unsafe impl Send for Dest {}
    // SAFETY: as above.
    unsafe impl Sync for Dest {}
    let dests: Vec<Dest> = copies.iter().map(|c| Dest(c.to)).collect();
    let sources: Vec<&[u8]> = copies.iter().map(|c| c.from).collect();
    std::thread::scope(|scope| {
        for run in &runs {
            let (dests, sources) = (&dests, &sources);
            scope.spawn(move || {
                for &(i, start, len) in run {
                    let from = &sources[i][start..start + len];
                    // SAFETY: [start, start + len) of copy i's destination is
                    // written by this run alone.
                    unsafe {
                        std::ptr::copy_nonoverlapping(from.as_ptr(), dests[i].0.add(start), len)
                    };
                }
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_copies_split_buffers_without_gaps_or_overlaps() {
        // Odd sizes around the split points: one big buffer, small ones, an empty one.
        let sizes = [5 << 20, 3, 0, 64, (4 << 20) + 13, 1];
        let sources: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(k, &n)| (0..n).map(|i| (i * 7 + k) as u8).collect())
            .collect();
        let total: usize = sizes.iter().sum();
        assert!(total >= PARALLEL_COPY_MIN);
        let mut dest = vec![0u8; total];
        let mut at = 0;
        let mut copies = Vec::new();
        for src in &sources {
            copies.push(Copy {
                from: src,
                // SAFETY: [at, at + len) lies inside `dest`.
                to: unsafe { dest.as_mut_ptr().add(at) },
            });
            at += src.len();
        }
        // SAFETY: the destinations tile `dest` exactly.
        unsafe { copy_all(&copies, total) };
        assert_eq!(dest, sources.concat());
    }
}
