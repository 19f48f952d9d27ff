//! The handshake on each lane socket: `Hello` from Python, `Welcome` back.
//!
//! Frames are a little-endian u32 length followed by FlatBuffers bytes. Lane
//! 0's Hello carries the control segment; the others name the session that
//! lane 0 established. The token was handed to the JVM out of band (its stdin
//! pipe); the JVM compares it in constant time and checks our credentials.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use flatbuffers::FlatBufferBuilder;

use crate::error::{BridgeError, Result};
use crate::protocol::{self, Hello, HelloArgs, PROTOCOL_VERSION};

/// Largest handshake frame accepted.
const MAX_FRAME: usize = 64 * 1024;

/// What lane `lane_index` tells the JVM.
#[derive(Debug, Clone)]
pub struct HelloFields<'a> {
    /// Session token (16 bytes).
    pub token: &'a [u8],
    /// Our pid.
    pub pid: u32,
    /// Our start time (`/proc/self/stat` field 22).
    pub start_time: u64,
    /// This lane.
    pub lane_index: u32,
    /// All lanes.
    pub lane_count: u32,
    /// memfd number of the control segment, or -1.
    pub control_fd: i32,
    /// Path of the control segment when not a memfd.
    pub control_path: Option<&'a str>,
    /// Control segment size.
    pub control_size: u64,
    /// Session id from lane 0's Welcome (0 for lane 0).
    pub session_id: u64,
    /// How many of the last lanes are callback lanes.
    pub callback_lanes: u32,
}

/// The JVM's accepted answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// JVM pid.
    pub pid: u32,
    /// The session.
    pub session_id: u64,
}

/// Encodes a Hello.
pub fn encode_hello(h: &HelloFields<'_>) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::with_capacity(256);
    let token = fbb.create_vector(h.token);
    let control_path = h.control_path.map(|p| fbb.create_string(p));
    let hello = Hello::create(
        &mut fbb,
        &HelloArgs {
            protocol_version: PROTOCOL_VERSION,
            token: Some(token),
            pid: h.pid as i32,
            start_time: h.start_time,
            lane_index: h.lane_index,
            lane_count: h.lane_count,
            control_fd: h.control_fd,
            control_path,
            control_size: h.control_size,
            session_id: h.session_id,
            callback_lanes: h.callback_lanes,
        },
    );
    fbb.finish(hello, None);
    fbb.finished_data().to_vec()
}

/// Sends a Hello and reads the Welcome, within `timeout`.
pub fn greet(
    socket: &mut UnixStream,
    hello: &HelloFields<'_>,
    timeout: Duration,
) -> Result<Accepted> {
    let timeout = timeout.max(Duration::from_millis(10));
    socket
        .set_read_timeout(Some(timeout))
        .and_then(|_| socket.set_write_timeout(Some(timeout)))
        .map_err(BridgeError::io("configuring the handshake"))?;
    write_frame(socket, &encode_hello(hello))?;
    let accepted = accept_welcome(&read_frame(socket)?, hello.lane_index)?;
    socket
        .set_read_timeout(None)
        .and_then(|_| socket.set_write_timeout(None))
        .map_err(BridgeError::io("configuring a lane"))?;
    Ok(accepted)
}

/// Decodes the JVM's Welcome for lane `lane_index` (bytes from the other
/// process: verified, and any refusal or version mismatch is an error).
pub fn accept_welcome(frame: &[u8], lane_index: u32) -> Result<Accepted> {
    let welcome = protocol::read_welcome(frame)?;
    if let Some(error) = welcome.error() {
        return Err(BridgeError::Handshake(format!(
            "the JVM refused lane {}: {error}",
            lane_index
        )));
    }
    if welcome.protocol_version() != PROTOCOL_VERSION {
        return Err(BridgeError::Handshake(format!(
            "protocol version mismatch: this client speaks {PROTOCOL_VERSION}, the JVM speaks {}",
            welcome.protocol_version()
        )));
    }
    Ok(Accepted {
        pid: welcome.pid() as u32,
        session_id: welcome.session_id(),
    })
}

/// Writes one length-prefixed frame.
pub fn write_frame(socket: &mut UnixStream, bytes: &[u8]) -> Result<()> {
    let mut frame = Vec::with_capacity(4 + bytes.len());
    frame.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    frame.extend_from_slice(bytes);
    socket
        .write_all(&frame)
        .map_err(|e| BridgeError::Handshake(format!("sending hello: {e}")))
}

/// Reads one length-prefixed frame.
pub fn read_frame(socket: &mut UnixStream) -> Result<Vec<u8>> {
    let mut len = [0u8; 4];
    socket.read_exact(&mut len).map_err(|e| {
        BridgeError::Handshake(format!(
            "no welcome from the JVM ({e}); it may have refused the connection"
        ))
    })?;
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(BridgeError::Handshake(format!(
            "welcome frame of {len} bytes exceeds {MAX_FRAME}"
        )));
    }
    let mut buf = vec![0u8; len];
    socket
        .read_exact(&mut buf)
        .map_err(|e| BridgeError::Handshake(format!("truncated welcome: {e}")))?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_decodes_with_every_field() {
        let token = [7u8; 16];
        let bytes = encode_hello(&HelloFields {
            token: &token,
            pid: 42,
            start_time: 9,
            lane_index: 1,
            lane_count: 4,
            control_fd: -1,
            control_path: Some("/tmp/x"),
            control_size: 1 << 20,
            session_id: 77,
            callback_lanes: 2,
        });
        let hello = flatbuffers::root::<Hello>(&bytes).unwrap();
        assert_eq!(hello.protocol_version(), PROTOCOL_VERSION);
        assert_eq!(hello.token().unwrap().bytes(), &token);
        assert_eq!(
            (hello.pid(), hello.lane_index(), hello.lane_count()),
            (42, 1, 4)
        );
        assert_eq!(hello.control_path(), Some("/tmp/x"));
        assert_eq!(hello.session_id(), 77);
    }

    #[test]
    fn a_refusal_is_reported() {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let server = std::thread::spawn(move || {
            let _hello = read_frame(&mut b).unwrap();
            let mut fbb = FlatBufferBuilder::new();
            let error = fbb.create_string("bad token");
            let w = protocol::Welcome::create(
                &mut fbb,
                &protocol::WelcomeArgs {
                    protocol_version: PROTOCOL_VERSION,
                    error: Some(error),
                    ..Default::default()
                },
            );
            fbb.finish(w, None);
            write_frame(&mut b, fbb.finished_data()).unwrap();
        });
        let token = [0u8; 16];
        let hello = HelloFields {
            token: &token,
            pid: 1,
            start_time: 0,
            lane_index: 0,
            lane_count: 1,
            control_fd: 3,
            control_path: None,
            control_size: 4096,
            session_id: 0,
            callback_lanes: 0,
        };
        let err = greet(&mut a, &hello, Duration::from_secs(5)).unwrap_err();
        assert!(err.to_string().contains("bad token"), "{err}");
        server.join().unwrap();
    }

    fn welcome(version: u32, error: Option<&str>) -> Vec<u8> {
        let mut fbb = FlatBufferBuilder::new();
        let error = error.map(|e| fbb.create_string(e));
        let w = protocol::Welcome::create(
            &mut fbb,
            &protocol::WelcomeArgs {
                protocol_version: version,
                pid: 4321,
                session_id: 9,
                error,
            },
        );
        fbb.finish(w, None);
        fbb.finished_data().to_vec()
    }

    proptest::proptest! {
        /// Whatever the JVM sends as its Welcome (arbitrary bytes, or a real
        /// one with bytes changed or cut), decoding gives a session or an
        /// error, never a panic; only a well-formed acceptance is accepted.
        #[test]
        fn arbitrary_and_mutated_welcomes_decode_or_fail_cleanly(
            noise in proptest::collection::vec(proptest::num::u8::ANY, 0..96),
            version in proptest::prop_oneof![proptest::strategy::Just(PROTOCOL_VERSION), proptest::num::u32::ANY],
            refused in proptest::bool::ANY,
            edits in proptest::collection::vec((proptest::num::usize::ANY, proptest::num::u8::ANY), 0..4),
            cut in proptest::num::usize::ANY,
        ) {
            let _ = accept_welcome(&noise, 0);
            let mut bytes = welcome(version, refused.then_some("no"));
            let clean = edits.is_empty() && cut % 4 != 0;
            for (at, byte) in edits {
                let n = bytes.len();
                bytes[at % n] = byte;
            }
            if cut % 4 == 0 {
                bytes.truncate(cut % (bytes.len() + 1));
            }
            let accepted = accept_welcome(&bytes, 0);
            if clean {
                proptest::prop_assert_eq!(accepted.is_ok(), version == PROTOCOL_VERSION && !refused);
            }
            if let (true, Ok(a)) = (clean, accepted) {
                proptest::prop_assert_eq!((a.pid, a.session_id), (4321, 9));
            }
        }

        /// A frame stream of arbitrary bytes that then ends: reading it
        /// gives a frame (no larger than the limit) or an error.
        #[test]
        fn arbitrary_frame_bytes_read_or_fail_cleanly(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            prefix in proptest::option::of(proptest::num::u32::ANY),
        ) {
            let (mut a, mut b) = UnixStream::pair().unwrap();
            if let Some(len) = prefix {
                b.write_all(&len.to_le_bytes()).unwrap();
            }
            b.write_all(&bytes).unwrap();
            drop(b);
            if let Ok(frame) = read_frame(&mut a) {
                proptest::prop_assert!(frame.len() <= MAX_FRAME);
            }
        }
    }
}
