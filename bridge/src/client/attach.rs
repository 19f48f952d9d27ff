//! Attaching to a server that another JVM hosts (a Spark driver, any Java
//! application that called `GatunServer.startHosted`): the same handshake
//! and lanes as a launched JVM, but the JVM is not our child, so every
//! segment of ours is handed over as a file in a private directory rather
//! than as a memfd it would open through `/proc/<pid>/fd` (which the usual
//! ptrace restrictions forbid for an unrelated process). Closing the client
//! ends only its session; the host JVM and its server carry on.

use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use gatun_arena::SegmentPlace;

use super::establish::{self, Plan, Tuning};
use super::private_dir::{shared_memory_base, PrivateDir};
use super::Client;
use crate::arrow_plane::ArenaSizing;
use crate::error::{BridgeError, Result};
use crate::lane::WaitStrategy;

/// Where the hosted server listens and how to connect to it.
#[derive(Debug, Clone)]
pub struct AttachOptions {
    /// The server's Unix socket.
    pub socket: PathBuf,
    /// The 16-byte token the host gave the server.
    pub token: [u8; 16],
    /// Lanes (concurrent calls).
    pub lanes: usize,
    /// Lanes for callbacks Java fires on its own threads.
    pub callback_lanes: usize,
    /// Bytes per request slot and per response slot.
    pub slot_size: usize,
    /// How long the handshake may take.
    pub timeout: Duration,
    /// The payload arena for Arrow data sent to the JVM.
    pub arena: ArenaSizing,
    /// How waits spin before blocking.
    pub doorbell: WaitStrategy,
    /// Check string columns from the JVM for UTF-8 on arrival.
    pub verify_utf8: bool,
}

impl AttachOptions {
    /// Defaults (4 lanes, 2 callback lanes, 1 MiB slots, 30 s) for a server
    /// at `socket` expecting `token`.
    pub fn new(socket: impl Into<PathBuf>, token: [u8; 16]) -> Self {
        AttachOptions {
            socket: socket.into(),
            token,
            lanes: 4,
            callback_lanes: 2,
            slot_size: 1 << 20,
            timeout: Duration::from_secs(30),
            arena: ArenaSizing::default(),
            doorbell: WaitStrategy::default(),
            verify_utf8: false,
        }
    }
}

/// Parses a session token written as 32 hexadecimal digits.
pub fn parse_token(hex: &str) -> Result<[u8; 16]> {
    let hex = hex.trim();
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(BridgeError::Value(format!(
            "a session token is 32 hexadecimal digits, got {} characters",
            hex.len()
        )));
    }
    let mut token = [0u8; 16];
    for (i, byte) in token.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
            .map_err(|e| BridgeError::Value(format!("bad session token: {e}")))?;
    }
    Ok(token)
}

impl Client {
    /// Connects every lane to a server that another JVM hosts.
    pub fn attach(opts: &AttachOptions) -> Result<Client> {
        if opts.lanes == 0 {
            return Err(BridgeError::Value("lanes must be at least 1".into()));
        }
        let dir = PrivateDir::create(&shared_memory_base(), "gatun-py")?;
        let place = SegmentPlace::Files(dir.path().to_path_buf());
        let plan = Plan {
            lanes: opts.lanes,
            callback_lanes: opts.callback_lanes,
            slot_size: opts.slot_size,
            token: &opts.token,
            place: &place,
            deadline: Instant::now() + opts.timeout,
        };
        let socket = &opts.socket;
        let mut handshaken = establish::handshake(
            &plan,
            &mut || {
                UnixStream::connect(socket).map_err(|e| {
                    BridgeError::Startup(format!(
                        "no gatun server accepts connections at {}: {e}",
                        socket.display()
                    ))
                })
            },
            &|e| e,
        )?;
        handshaken.unlink_control_file()?;
        let tuning = Tuning {
            arena: opts.arena,
            doorbell: opts.doorbell,
            verify_utf8: opts.verify_utf8,
        };
        establish::assemble(handshaken, &plan, &tuning, None, Some(dir))
    }

    /// Whether this client attached to a hosted server (closing it ends only
    /// its session) rather than launching its own JVM.
    pub fn is_attached(&self) -> bool {
        self.shared.attached
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_or_say_what_is_wrong() {
        let t = parse_token("000102030405060708090a0b0c0d0e0f").unwrap();
        assert_eq!(t[15], 15);
        assert!(parse_token("00").unwrap_err().to_string().contains("32"));
        assert!(parse_token(&"zz".repeat(16)).is_err());
    }

    #[test]
    fn attaching_to_nothing_names_the_socket() {
        let opts = AttachOptions::new("/nonexistent/gatun.sock", [0; 16]);
        let err = Client::attach(&opts).err().unwrap().to_string();
        assert!(err.contains("/nonexistent/gatun.sock"), "{err}");
    }
}
