//! `BridgeError`: every way a bridge operation can fail.

use std::fmt;
use std::io;

/// A Java exception (or a server-side bridge error) reported by the JVM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaError {
    /// Fully qualified exception class, e.g. `java.lang.NumberFormatException`.
    pub class_name: String,
    /// `getMessage()`, possibly empty.
    pub message: String,
    /// The full stack trace text, including "Caused by" chains.
    pub stack_trace: String,
}

/// The error type of the `gatun-bridge` crate.
#[derive(Debug)]
pub enum BridgeError {
    /// The JVM threw; the session goes on.
    Java(JavaError),
    /// The JVM is gone or the client was closed; every later call fails too.
    Closed(String),
    /// No usable Java installation.
    JavaNotFound(String),
    /// The JVM did not start or did not become ready.
    Startup(String),
    /// The handshake was refused or malformed.
    Handshake(String),
    /// A malformed message (either direction).
    Protocol(String),
    /// A message does not fit where it must go.
    TooLarge {
        /// What was too large ("request", "response").
        what: &'static str,
        /// Its size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A value cannot be sent (unsupported type, out of range).
    Value(String),
    /// An Arrow type that cannot cross (named column, type, and the cast that works).
    UnsupportedArrowType(String),
    /// The payload arena has no room (it says how much was asked and is in use).
    ArenaFull(String),
    /// The caller asked to stop waiting (Ctrl-C); the call was cancelled.
    Interrupted,
    /// Waiting here could never end (e.g. a blocking call on an event loop's
    /// thread while that loop's own calls hold every lane); says what to do.
    WouldDeadlock(String),
    /// An operating-system call failed.
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
}

impl BridgeError {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> BridgeError {
        let context = context.into();
        move |source| BridgeError::Io { context, source }
    }
}

impl fmt::Display for BridgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BridgeError::Java(e) if e.message.is_empty() => write!(f, "{}", e.class_name),
            BridgeError::Java(e) => write!(f, "{}: {}", e.class_name, e.message),
            BridgeError::Closed(why) => write!(f, "bridge closed: {why}"),
            BridgeError::JavaNotFound(why) => write!(f, "{why}"),
            BridgeError::Startup(why) => write!(f, "could not reach a JVM: {why}"),
            BridgeError::Handshake(why) => write!(f, "handshake failed: {why}"),
            BridgeError::Protocol(why) => write!(f, "protocol error: {why}"),
            BridgeError::TooLarge { what, size, limit } => write!(
                f,
                "{what} of {size} bytes exceeds the lane slot of {limit} bytes; send bulk data through Arrow or raise slot_size"
            ),
            BridgeError::Value(why)
            | BridgeError::UnsupportedArrowType(why)
            | BridgeError::ArenaFull(why)
            | BridgeError::WouldDeadlock(why) => {
                write!(f, "{why}")
            }
            BridgeError::Interrupted => write!(f, "call interrupted"),
            BridgeError::Io { context, source } => write!(f, "{context}: {source}"),
        }
    }
}

impl std::error::Error for BridgeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BridgeError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<gatun_arena::SegmentError> for BridgeError {
    fn from(e: gatun_arena::SegmentError) -> Self {
        BridgeError::Io {
            context: "shared memory".into(),
            source: io::Error::other(e.to_string()),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = BridgeError> = std::result::Result<T, E>;
