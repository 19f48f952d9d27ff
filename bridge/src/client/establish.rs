//! What launching a JVM and attaching to one share: the control segment and
//! its header, the handshake on every lane, and the [`Client`] they make up.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use gatun_arena::{Segment, SegmentPlace};

use super::private_dir::PrivateDir;
use super::{Client, ControlMemory, Shared};
use crate::arrow_plane::{ArenaSizing, ArrowPlane};
use crate::control::{self, ControlSegment, HeaderFields};
use crate::error::{BridgeError, Result};
use crate::handshake::{self, HelloFields};
use crate::lane::{Lane, LaneRole, WaitStrategy};
use crate::launcher::JvmProcess;
use crate::object_releases::ObjectReleases;

/// The shape of a session, whichever way the JVM was found.
pub(super) struct Plan<'a> {
    /// Call lanes.
    pub lanes: usize,
    /// Callback lanes after them.
    pub callback_lanes: usize,
    /// Bytes per request and per response slot.
    pub slot_size: usize,
    /// The token the server expects.
    pub token: &'a [u8; 16],
    /// Where this process's segments go (memfds for a child, files otherwise).
    pub place: &'a SegmentPlace,
    /// When the whole handshake must be done.
    pub deadline: Instant,
}

/// Every lane connected and accepted by the JVM.
pub(super) struct Handshaken {
    segment: ControlSegment,
    control: Segment,
    sockets: Vec<UnixStream>,
    jvm_pid: u32,
}

impl Handshaken {
    /// Forgets the control segment's file name once the JVM has mapped it,
    /// so nothing is left behind even if this process is killed now.
    pub fn unlink_control_file(&mut self) -> Result<()> {
        self.control
            .unlink_backing_file()
            .map_err(BridgeError::io("unlinking the control file"))
    }
}

/// Creates the control segment and greets the JVM on every lane, each lane's
/// socket coming from `connect`; `annotate` adds what the JVM said to an
/// error (its stderr, when we launched it).
pub(super) fn handshake(
    plan: &Plan<'_>,
    connect: &mut dyn FnMut() -> Result<UnixStream>,
    annotate: &dyn Fn(BridgeError) -> BridgeError,
) -> Result<Handshaken> {
    if plan.lanes == 0 {
        return Err(BridgeError::Value("lanes must be at least 1".into()));
    }
    let segment = ControlSegment::new(plan.lanes + plan.callback_lanes, plan.slot_size)
        .map_err(BridgeError::Value)?;
    let control = Segment::create_in(plan.place, "control", segment.total_size())?;
    let pid = std::process::id();
    // SAFETY: the segment is at least 64 bytes and nobody else maps it yet.
    let header = unsafe { std::slice::from_raw_parts_mut(control.as_ptr(), control::header::SIZE) };
    control::write_header(
        header,
        &HeaderFields {
            lanes: segment.lanes as u32,
            slot_size: segment.slot_size as u32,
            py_pid: pid,
            jvm_pid: 0,
            py_start: super::process_start_time(),
            jvm_start: 0,
            state: crate::layout::STATE_CREATED,
        },
    );
    let (control_fd, control_path) = match control.locator() {
        gatun_arena::SegmentLocator::Memfd { fd, .. } => (*fd, None),
        gatun_arena::SegmentLocator::File(p) => (-1, Some(p.display().to_string())),
    };
    let mut hello = HelloFields {
        token: plan.token,
        pid,
        start_time: super::process_start_time(),
        lane_index: 0,
        lane_count: segment.lanes as u32,
        control_fd,
        control_path: control_path.as_deref(),
        control_size: segment.total_size() as u64,
        session_id: 0,
        callback_lanes: plan.callback_lanes as u32,
    };
    let mut sockets = Vec::with_capacity(segment.lanes);
    let mut jvm_pid = 0;
    for index in 0..segment.lanes {
        let mut socket = connect()?;
        hello.lane_index = index as u32;
        let remaining = plan.deadline.saturating_duration_since(Instant::now());
        let accepted = handshake::greet(&mut socket, &hello, remaining).map_err(annotate)?;
        if index == 0 {
            hello.session_id = accepted.session_id;
            jvm_pid = accepted.pid;
        }
        sockets.push(socket);
    }
    Ok(Handshaken {
        segment,
        control,
        sockets,
        jvm_pid,
    })
}

/// How the assembled client waits and sizes its arena.
pub(super) struct Tuning {
    pub arena: ArenaSizing,
    pub doorbell: WaitStrategy,
    pub verify_utf8: bool,
}

/// The client over a handshaken session. `jvm` is the process we launched
/// (none when attached); `segment_dir` holds this process's segment files
/// when the JVM is not our child, and goes when the client does.
pub(super) fn assemble(
    done: Handshaken,
    plan: &Plan<'_>,
    tuning: &Tuning,
    jvm: Option<JvmProcess>,
    segment_dir: Option<PrivateDir>,
) -> Result<Client> {
    let Handshaken {
        segment,
        control,
        sockets,
        jvm_pid,
    } = done;
    let base = control.as_ptr();
    let socket_fds = Mutex::new(sockets.iter().map(|s| s.as_raw_fd()).collect());
    let lanes = sockets
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            // SAFETY: `control` is moved into `Shared` below and outlives every lane.
            let mut lane = unsafe { Lane::new(i, base, &segment, s) }?;
            lane.set_strategy(tuning.doorbell);
            lane.set_peer_pid(jvm_pid);
            if i >= plan.lanes {
                lane.set_role(LaneRole::Callback);
            }
            Ok(Mutex::new(lane))
        })
        .collect::<Result<Vec<_>>>()?;
    let lane_total = segment.lanes;
    let client = Client {
        shared: Arc::new(Shared {
            segment,
            call_lanes: plan.lanes,
            free: Mutex::new((0..plan.lanes).rev().collect()),
            lanes,
            lane_freed: Condvar::new(),
            scratch: Mutex::new(Vec::new()),
            releases: Arc::new(ObjectReleases::default()),
            closed: AtomicBool::new(false),
            close_reason: Mutex::new(String::new()),
            attached: jvm.is_none(),
            output: jvm.as_ref().map(|j| j.output()),
            jvm: Mutex::new(jvm),
            jvm_pid,
            socket_fds,
            open_lanes: AtomicUsize::new(lane_total),
            releasing: AtomicBool::new(false),
            loop_lanes: Mutex::new(Vec::new()),
            // SAFETY: `control` moves into the same `Shared` and outlives the plane.
            arrow: unsafe { ArrowPlane::new(base, tuning.arena, plan.place.clone()) },
            control: Mutex::new(ControlMemory::Mapped(control)),
            segment_dir: Mutex::new(segment_dir),
        }),
    };
    client.shared.arrow.set_jvm_pid(jvm_pid);
    client.shared.arrow.set_verify_utf8(tuning.verify_utf8);
    Ok(client)
}
