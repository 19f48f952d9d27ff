//! The plain-Rust client against a real JVM running the server jar.
//!
//! The jar comes from `GATUN_JAR` or `java/target/gatun-server.jar` (built by
//! `scripts/build`); these tests fail, rather than skip, when it is missing.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use gatun_bridge::protocol::Action;
use gatun_bridge::protocol::RequestHead;
use gatun_bridge::{BatchEncoder, BridgeError, Client, ClientOptions, Value};

fn jar() -> PathBuf {
    let jar = std::env::var_os("GATUN_JAR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../java/target/gatun-server.jar")
        });
    assert!(
        jar.is_file(),
        "server jar {} is missing: run scripts/build first",
        jar.display()
    );
    jar
}

fn launch() -> Client {
    let mut opts = ClientOptions::with_jar(jar());
    opts.lanes = 2;
    opts.slot_size = 64 * 1024;
    Client::launch(&opts).expect("launching the JVM")
}

#[test]
fn math_max_runs_in_the_jvm() {
    let client = launch();
    let max = client
        .invoke_static("java.lang.Math", "max", &[Value::Int(3), Value::Int(7)])
        .unwrap();
    assert_eq!(max, Value::Int(7));
    client.ping().unwrap();
    client.close(Duration::from_secs(5));
}

#[test]
fn objects_live_in_the_session_and_exceptions_come_back() {
    let client = launch();
    let list = match client.create_object("java.util.ArrayList", &[]).unwrap() {
        Value::Object(h) => h,
        other => panic!("expected an object, got {other:?}"),
    };
    assert_eq!(list.class_name, "java.util.ArrayList");
    client
        .invoke_method(list.id, "add", &[Value::String("x".into())])
        .unwrap();
    assert_eq!(
        client.invoke_method(list.id, "size", &[]).unwrap(),
        Value::Int(1)
    );
    let err = client
        .invoke_static(
            "java.lang.Integer",
            "parseInt",
            &[Value::String("nope".into())],
        )
        .unwrap_err();
    match err {
        BridgeError::Java(e) => {
            assert_eq!(e.class_name, "java.lang.NumberFormatException");
            assert!(e.message.contains("nope"), "{}", e.message);
        }
        other => panic!("expected a Java exception, got {other}"),
    }
    // A released id is gone for good; the session keeps answering.
    client.object_releases().push(list.id);
    client.flush_releases().unwrap();
    assert!(client.invoke_method(list.id, "size", &[]).is_err());
    assert_eq!(
        client
            .get_static_field("java.lang.Integer", "MAX_VALUE")
            .unwrap(),
        Value::Int(i64::from(i32::MAX))
    );
    client.close(Duration::from_secs(5));
}

fn push_call(batch: &mut BatchEncoder, object_id: i64, name: &str, args: &[Value]) {
    let head = RequestHead {
        action: Action::InvokeMethod,
        object_id,
        name: Some(name),
        ..Default::default()
    };
    batch
        .push(&head, |fbb| {
            let encoded: Vec<_> = args.iter().map(|a| a.encode(fbb)).collect();
            Ok::<_, ()>(Some(fbb.create_vector(&encoded)))
        })
        .unwrap();
}

#[test]
fn a_batch_larger_than_the_slot_runs_in_order_over_several_requests() {
    let client = launch(); // 64 KiB slots
    let list = match client.create_object("java.util.ArrayList", &[]).unwrap() {
        Value::Object(h) => h.id,
        other => panic!("expected an object, got {other:?}"),
    };
    let mut batch = BatchEncoder::new();
    for i in 0..5_000 {
        push_call(&mut batch, list, "add", &[Value::Int(i)]);
    }
    push_call(&mut batch, list, "get", &[Value::Int(4_999)]);
    push_call(&mut batch, list, "get", &[Value::Int(5_000)]);
    push_call(&mut batch, list, "size", &[]);
    assert!(batch.request_len(0..batch.len()) > 4 * client.slot_size());
    let results = client.run_batch(&batch, false).unwrap();
    assert_eq!(results.len(), 5_003);
    assert!(results[..5_000]
        .iter()
        .all(|r| matches!(r, Ok(Value::Bool(true)))));
    assert_eq!(results[5_000].as_ref().unwrap(), &Value::Int(4_999));
    assert!(
        matches!(&results[5_001], Err(BridgeError::Java(e)) if e.class_name.ends_with("IndexOutOfBoundsException"))
    );
    assert_eq!(results[5_002].as_ref().unwrap(), &Value::Int(5_000));

    // stop_on_error: the results end at the first failure, later commands never run.
    let mut batch = BatchEncoder::new();
    push_call(&mut batch, list, "clear", &[]);
    push_call(&mut batch, list, "get", &[Value::Int(0)]);
    for i in 0..3_000 {
        push_call(&mut batch, list, "add", &[Value::Int(i)]);
    }
    let results = client.run_batch(&batch, true).unwrap();
    assert_eq!(results.len(), 2);
    assert!(results[1].is_err());
    assert_eq!(
        client.invoke_method(list, "size", &[]).unwrap(),
        Value::Int(0)
    );
    client.close(Duration::from_secs(5));
}

#[test]
fn a_batch_whose_replies_outgrow_the_slot_is_answered_over_several_requests() {
    let client = launch(); // 64 KiB slots
    let list = match client.create_object("java.util.ArrayList", &[]).unwrap() {
        Value::Object(h) => h.id,
        other => panic!("expected an object, got {other:?}"),
    };
    let text = "r".repeat(1000);
    client
        .invoke_method(list, "add", &[Value::String(text.clone())])
        .unwrap();
    // Small commands, large replies: ~300 KB of replies to one request.
    let mut batch = BatchEncoder::new();
    for _ in 0..300 {
        push_call(&mut batch, list, "get", &[Value::Int(0)]);
        push_call(&mut batch, list, "add", &[Value::String("x".into())]);
    }
    assert!(batch.request_len(0..batch.len()) < client.slot_size());
    let results = client.run_batch(&batch, false).unwrap();
    assert_eq!(results.len(), 600);
    for (i, r) in results.iter().enumerate() {
        let expected = if i % 2 == 0 {
            Value::String(text.clone())
        } else {
            Value::Bool(true)
        };
        assert_eq!(r.as_ref().unwrap(), &expected, "command {i}");
    }
    assert_eq!(
        client.invoke_method(list, "size", &[]).unwrap(),
        Value::Int(301)
    );
    client.close(Duration::from_secs(5));
}

#[test]
fn random_bytes_in_the_request_slot_get_an_error_reply() {
    let client = launch();
    let mut rng_state = 0x2545_f491_4f6c_dd1du64;
    for round in 0..20 {
        let len = 1 + (round * 37) % 500;
        let garbage: Vec<u8> = (0..len)
            .map(|_| {
                rng_state ^= rng_state << 13;
                rng_state ^= rng_state >> 7;
                rng_state ^= rng_state << 17;
                rng_state as u8
            })
            .collect();
        let mut lane = client.acquire_lane().unwrap();
        let seq = lane.send(&garbage).unwrap();
        lane.wait(seq, &mut gatun_bridge::lane::NoInterrupt)
            .unwrap();
        let response = lane
            .response()
            .expect("the JVM answers garbage with a valid response");
        assert!(response.error().is_some(), "garbage must be an error reply");
    }
    // The session goes on.
    let head = RequestHead {
        action: Action::Ping,
        ..Default::default()
    };
    assert_eq!(client.call(&head, &[]).unwrap(), Value::Null);
    client.close(Duration::from_secs(5));
}

#[test]
fn a_killed_jvm_fails_the_next_call_promptly() {
    let client = launch();
    let lanes = client.open_lanes(); // call and callback lanes
    let pid = client.jvm_pid() as i32;
    // SAFETY: sending SIGKILL to the JVM this test launched.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let start = Instant::now();
    let err = loop {
        match client.ping() {
            Err(e) => break e,
            Ok(()) if start.elapsed() < Duration::from_secs(5) => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Ok(()) => panic!("the JVM still answers 5 s after SIGKILL"),
        }
    };
    assert!(matches!(err, BridgeError::Closed(_)), "{err}");
    assert!(matches!(client.ping(), Err(BridgeError::Closed(_))));
    // A dead JVM leaves the lanes to close() (an event loop may still watch one).
    assert_eq!(client.open_lanes(), lanes);
    client.close(Duration::from_secs(5));
    assert_eq!(client.open_lanes(), 0);
}

#[test]
fn close_closes_every_lane_while_clones_of_the_client_live() {
    let client = launch();
    client.ping().unwrap();
    let clone = client.clone();
    assert_eq!(
        clone.open_lanes(),
        2 + ClientOptions::with_jar(jar()).callback_lanes
    );
    client.close(Duration::from_secs(5));
    assert_eq!(clone.open_lanes(), 0);
    assert!(matches!(clone.ping(), Err(BridgeError::Closed(_))));
    clone.close(Duration::from_secs(5)); // idempotent
}

#[test]
fn a_missing_jar_is_a_clear_startup_error() {
    let opts = ClientOptions::with_jar("/nonexistent/gatun-server.jar");
    let err = Client::launch(&opts).err().expect("launch must fail");
    assert!(
        err.to_string().contains("/nonexistent/gatun-server.jar"),
        "{err}"
    );
}

/// Encodes a `Ping` request.
fn ping_request() -> Vec<u8> {
    let mut fbb = flatbuffers::FlatBufferBuilder::new();
    let head = RequestHead {
        action: Action::Ping,
        ..Default::default()
    };
    let req = gatun_bridge::protocol::build_request(&mut fbb, &head, None, &[], None, false);
    fbb.finish(req, None);
    fbb.finished_data().to_vec()
}

/// Waits (as an event loop would, but blocking) until `fd` is readable.
fn readable(fd: i32) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    let rc = unsafe { libc::poll(&mut pfd, 1, 10_000) };
    assert_eq!(rc, 1, "no doorbell byte within 10 s");
}

#[test]
fn a_lent_lane_is_always_rung_and_returns_to_the_pool() {
    let client = launch();
    let request = ping_request();
    for _ in 0..50 {
        let mut call = client.try_lend_lane().unwrap().expect("a free lane");
        // Two lanes: the loop keeps one for blocking calls.
        assert!(client.try_lend_lane().unwrap().is_none());
        call.send(&request).unwrap();
        while !call.poll().unwrap() {
            // Not arrived: the flag is raised, so Java must ring.
            readable(call.socket_fd());
        }
        assert!(!call.holds_callback_call().unwrap());
        let ok = call
            .with_response(|bytes| gatun_bridge::protocol::read_response(bytes).is_ok())
            .unwrap();
        assert!(ok);
        call.finish();
    }
    // Both lanes are back for blocking calls.
    let a = client.acquire_lane().unwrap();
    let b = client.try_acquire_lane().unwrap();
    assert!(b.is_some());
    drop((a, b));
    client.close(Duration::from_secs(5));
}

#[test]
fn an_abandoned_lent_call_does_not_put_its_lane_out_of_step() {
    let mut opts = ClientOptions::with_jar(jar());
    opts.lanes = 1;
    let client = Client::launch(&opts).expect("launching the JVM");
    let mut call = client.try_lend_lane().unwrap().expect("a free lane");
    call.send(&ping_request()).unwrap();
    call.abandon().unwrap();
    // The late answer is dropped by sequence number; calls go on in step.
    for i in 0..20 {
        let max = client
            .invoke_static("java.lang.Math", "max", &[Value::Int(i), Value::Int(10)])
            .unwrap();
        assert_eq!(max, Value::Int(i.max(10)));
    }
    client.close(Duration::from_secs(5));
}

#[test]
fn a_lent_call_sees_a_killed_jvm_as_eof() {
    let client = launch();
    let mut call = client.try_lend_lane().unwrap().expect("a free lane");
    let pid = client.jvm_pid() as i32;
    // SAFETY: sending SIGKILL to the JVM this test launched.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let err = 'call: loop {
        if let Err(e) = call.send(&ping_request()) {
            break e;
        }
        loop {
            match call.poll() {
                Err(e) => break 'call e,
                // Answered just before the signal landed: ask again.
                Ok(true) => continue 'call,
                Ok(false) => readable(call.socket_fd()),
            }
        }
    };
    assert!(matches!(err, BridgeError::Closed(_)), "{err}");
    assert!(client.is_closed());
}
