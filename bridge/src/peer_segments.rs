//! Peer segments: the JVM's payload segments mapped into this process,
//! found through the segment directory on first use and kept (shared by the
//! Arrow buffers over them) until the session closes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use gatun_arena::{Segment, SegmentLocator, MAX_SEGMENT_SIZE};

use crate::directory::SegmentDirectory;
use crate::error::{BridgeError, Result};

/// The JVM's segments this process has mapped, by segment id.
pub struct PeerSegments {
    directory: SegmentDirectory,
    jvm_pid: AtomicU32,
    mapped: Mutex<HashMap<u16, Arc<Segment>>>,
}

impl PeerSegments {
    /// Segments announced in `directory`.
    pub fn new(directory: SegmentDirectory) -> Self {
        PeerSegments {
            directory,
            jvm_pid: AtomicU32::new(0),
            mapped: Mutex::default(),
        }
    }

    /// Records the JVM's pid (to open its memfd segments).
    pub fn set_jvm_pid(&self, pid: u32) {
        self.jvm_pid.store(pid, Ordering::Relaxed);
    }

    /// JVM segment `id`, mapped on first use from its directory entry.
    pub fn get(&self, id: u16) -> Result<Arc<Segment>> {
        let mut segments = self.mapped.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = segments.get(&id) {
            return Ok(s.clone());
        }
        let entry = self.directory.find_java_segment(id).ok_or_else(|| {
            BridgeError::Protocol(format!(
                "the JVM referenced segment {id}, which it never published"
            ))
        })?;
        if entry.size == 0 || entry.size > MAX_SEGMENT_SIZE {
            return Err(BridgeError::Protocol(format!(
                "JVM segment {id} has bad size {}",
                entry.size
            )));
        }
        let locator = if entry.memfd >= 0 {
            SegmentLocator::Memfd {
                pid: self.jvm_pid.load(Ordering::Relaxed),
                fd: entry.memfd,
            }
        } else {
            SegmentLocator::File(entry.name.clone().into())
        };
        let segment = Arc::new(Segment::open(&locator, entry.size)?);
        if let SegmentLocator::File(path) = &locator {
            // Mapped: the name is no longer needed, so nothing is left behind.
            let _ = std::fs::remove_file(path);
        }
        segments.insert(id, segment.clone());
        Ok(segment)
    }

    /// Forgets every mapping (Arrow data still referenced keeps its own).
    pub fn clear(&self) {
        let segments = std::mem::take(&mut *self.mapped.lock().unwrap_or_else(|e| e.into_inner()));
        drop(segments);
    }
}
