//! The launched JVM's stdout and stderr: read by one thread each as soon as
//! they are written (so the JVM never blocks on a full pipe), queued for
//! whoever forwards them (Python's `sys.stdout`/`sys.stderr`, a logger, a
//! file), and the last 64 KiB of stderr kept for error messages.

use std::collections::VecDeque;
use std::io::Read;
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::Duration;

/// Which of the JVM's streams a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// `System.out`.
    Stdout = 1,
    /// `System.err`.
    Stderr = 2,
}

/// At most this much output waits for a reader; beyond it the oldest goes
/// (and is counted), so a client that never forwards costs bounded memory.
const QUEUE_LIMIT: usize = 4 << 20;

/// Bytes of stderr kept for error messages.
pub const STDERR_TAIL: usize = 64 * 1024;

#[derive(Default)]
struct Queue {
    chunks: VecDeque<(Stream, Vec<u8>)>,
    bytes: usize,
    dropped: u64,
    open_streams: usize,
}

/// What the JVM wrote and nobody has read yet.
#[derive(Default)]
pub struct JvmOutput {
    queue: Mutex<Queue>,
    ready: Condvar,
    stderr_tail: Mutex<VecDeque<u8>>,
}

/// One answer of [`JvmOutput::next`].
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// A chunk, as the JVM wrote it (not split into lines).
    Chunk(Stream, Vec<u8>),
    /// Nothing within the timeout.
    Idle,
    /// Both streams are closed and everything was read.
    Ended,
}

impl JvmOutput {
    /// Starts a reader thread for `pipe`; `done` disconnects when it ends.
    pub fn read_from(
        self: &Arc<Self>,
        stream: Stream,
        mut pipe: impl Read + Send + 'static,
        done: mpsc::Sender<()>,
    ) -> std::io::Result<()> {
        self.lock().open_streams += 1;
        let output = self.clone();
        let name = match stream {
            Stream::Stdout => "gatun-jvm-stdout",
            Stream::Stderr => "gatun-jvm-stderr",
        };
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    output.push(stream, &buf[..n]);
                }
                drop(pipe);
                output.lock().open_streams -= 1;
                output.ready.notify_all();
                drop(done);
            })
            .map(|_| ())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, stream: Stream, bytes: &[u8]) {
        if stream == Stream::Stderr {
            let mut tail = self.stderr_tail.lock().unwrap_or_else(|e| e.into_inner());
            tail.extend(bytes);
            let excess = tail.len().saturating_sub(STDERR_TAIL);
            tail.drain(..excess);
        }
        let mut q = self.lock();
        q.chunks.push_back((stream, bytes.to_vec()));
        q.bytes += bytes.len();
        while q.bytes > QUEUE_LIMIT {
            let Some((_, old)) = q.chunks.pop_front() else {
                break;
            };
            q.bytes -= old.len();
            q.dropped += old.len() as u64;
        }
        drop(q);
        self.ready.notify_one();
    }

    /// The next chunk, waiting up to `timeout` for one.
    pub fn next(&self, timeout: Duration) -> Next {
        let mut q = self.lock();
        loop {
            if let Some((stream, bytes)) = q.chunks.pop_front() {
                q.bytes -= bytes.len();
                return Next::Chunk(stream, bytes);
            }
            if q.open_streams == 0 {
                return Next::Ended;
            }
            let (guard, result) = self
                .ready
                .wait_timeout(q, timeout)
                .unwrap_or_else(|e| e.into_inner());
            q = guard;
            if result.timed_out() && q.chunks.is_empty() {
                return if q.open_streams == 0 {
                    Next::Ended
                } else {
                    Next::Idle
                };
            }
        }
    }

    /// Bytes of output dropped because nobody read them in time.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// The last 64 KiB the JVM wrote to stderr.
    pub fn stderr_tail(&self) -> String {
        let tail = self.stderr_tail.lock().unwrap_or_else(|e| e.into_inner());
        let (a, b) = tail.as_slices();
        let mut bytes = a.to_vec();
        bytes.extend_from_slice(b);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::fmt::Debug for JvmOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JvmOutput")
            .field("dropped", &self.dropped())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_streams_arrive_then_the_end() {
        let out = Arc::new(JvmOutput::default());
        let (tx, _rx) = mpsc::channel();
        out.read_from(Stream::Stderr, &b"hello "[..], tx.clone())
            .unwrap();
        out.read_from(Stream::Stdout, &b"world"[..], tx).unwrap();
        let mut seen = Vec::new();
        loop {
            match out.next(Duration::from_secs(5)) {
                Next::Chunk(s, b) => seen.push((s as u8, b)),
                Next::Ended => break,
                Next::Idle => panic!("the readers ended; output must end too"),
            }
        }
        seen.sort();
        assert_eq!(
            seen,
            vec![
                (Stream::Stdout as u8, b"world".to_vec()),
                (Stream::Stderr as u8, b"hello ".to_vec())
            ]
        );
        assert_eq!(out.stderr_tail(), "hello ");
    }

    #[test]
    fn unread_output_is_bounded() {
        let out = JvmOutput::default();
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..10 {
            out.push(Stream::Stdout, &chunk);
        }
        assert_eq!(out.dropped(), 6 << 20);
        let mut kept = 0;
        while let Next::Chunk(_, b) = out.next(Duration::from_millis(1)) {
            kept += b.len();
        }
        assert_eq!(kept, 4 << 20);
    }
}
