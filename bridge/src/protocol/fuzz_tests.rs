//! Proptest runs standing in for fuzz targets (cargo-fuzz needs nightly):
//! messages of the shapes the JVM sends (callback calls, batch replies with
//! values of every kind), arbitrary or with bytes changed or cut, go through
//! the decoders Python's side uses: verification, then every field and
//! [`Value::decode`]. An error is fine; a panic or a stray read is not.

use flatbuffers::FlatBufferBuilder;
use proptest::prelude::*;

use super::*;
use crate::value::{ArrayValue, Value as V};

fn sample_values() -> Vec<V> {
    vec![
        V::Null,
        V::Bool(true),
        V::Int(-7),
        V::Double(2.5),
        V::String("héllo".into()),
        V::Bytes(vec![1, 2, 3]),
        V::List(vec![V::Int(1), V::String("x".into())]),
        V::Array(ArrayValue::Int(vec![1, 2, 3])),
        V::Array(ArrayValue::Objects(
            ElementType::String,
            vec![V::String("a".into())],
        )),
    ]
}

/// A callback call carrying `args`.
fn callback_call(args: &[V]) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::new();
    let encoded: Vec<_> = args.iter().map(|a| a.encode(&mut fbb)).collect();
    let args = fbb.create_vector(&encoded);
    let method = fbb.create_string("compare");
    let interface = fbb.create_string("java.util.Comparator");
    let call = CallbackCall::create(
        &mut fbb,
        &CallbackCallArgs {
            callback_id: 12,
            method: Some(method),
            interface_name: Some(interface),
            args: Some(args),
        },
    );
    let root = Response::create(
        &mut fbb,
        &ResponseArgs {
            callback: Some(call),
            ..Default::default()
        },
    );
    fbb.finish(root, None);
    fbb.finished_data().to_vec()
}

/// A batch reply: one value per item, every third an error.
fn batch_reply(values: &[V]) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::new();
    let mut items = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let item = if i % 3 == 2 {
            let class_name = fbb.create_string("java.lang.IllegalStateException");
            let message = fbb.create_string("no");
            let error = JavaError::create(
                &mut fbb,
                &JavaErrorArgs {
                    class_name: Some(class_name),
                    message: Some(message),
                    stack_trace: None,
                },
            );
            Response::create(
                &mut fbb,
                &ResponseArgs {
                    error: Some(error),
                    ..Default::default()
                },
            )
        } else {
            let value = v.encode(&mut fbb);
            Response::create(
                &mut fbb,
                &ResponseArgs {
                    value: Some(value),
                    ..Default::default()
                },
            )
        };
        items.push(item);
    }
    let batch = fbb.create_vector(&items);
    let root = Response::create(
        &mut fbb,
        &ResponseArgs {
            batch: Some(batch),
            ..Default::default()
        },
    );
    fbb.finish(root, None);
    fbb.finished_data().to_vec()
}

/// Decodes everything in `bytes` the way the client does; returns how
/// many values decoded.
fn decode_all(bytes: &[u8]) -> usize {
    let Ok(response) = read_response(bytes) else {
        return 0;
    };
    let mut decoded = 0;
    if let Some(call) = response.callback() {
        let _ = (call.callback_id(), call.method(), call.interface_name());
        for arg in call.args().into_iter().flatten() {
            decoded += usize::from(V::decode(arg).is_ok());
        }
    }
    for item in response.batch().into_iter().flatten() {
        match item.error() {
            Some(e) => {
                let _ = java_error(e);
            }
            None => decoded += usize::from(item.value().map_or(Ok(V::Null), V::decode).is_ok()),
        }
    }
    if let Some(v) = response.value() {
        decoded += usize::from(V::decode(v).is_ok());
    }
    if let Some(e) = response.error() {
        let _ = java_error(e);
    }
    decoded
}

fn pick(indices: &[usize]) -> Vec<V> {
    let all = sample_values();
    indices
        .iter()
        .map(|&i| all[i % all.len()].clone())
        .collect()
}

/// Changes bytes of `bytes` and perhaps cuts it short.
fn damage(bytes: &mut Vec<u8>, edits: &[(usize, u8)], cut: usize) {
    for &(at, byte) in edits {
        let n = bytes.len();
        bytes[at % n] = byte;
    }
    if cut % 4 == 0 {
        bytes.truncate(cut % (bytes.len() + 1));
    }
}

#[test]
fn intact_messages_decode_in_full() {
    let values = pick(&(0..9).collect::<Vec<_>>());
    assert_eq!(decode_all(&callback_call(&values)), values.len());
    // Every third item of a batch reply is an error.
    assert_eq!(decode_all(&batch_reply(&values)), 6);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Callback calls from Java, damaged anywhere.
    #[test]
    fn damaged_callback_calls_decode_or_fail_cleanly(
        args in proptest::collection::vec(any::<usize>(), 0..6),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..5),
        cut in any::<usize>(),
    ) {
        let mut bytes = callback_call(&pick(&args));
        damage(&mut bytes, &edits, cut);
        decode_all(&bytes);
    }

    /// Batch replies, damaged anywhere.
    #[test]
    fn damaged_batch_replies_decode_or_fail_cleanly(
        values in proptest::collection::vec(any::<usize>(), 1..12),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..5),
        cut in any::<usize>(),
    ) {
        let mut bytes = batch_reply(&pick(&values));
        damage(&mut bytes, &edits, cut);
        decode_all(&bytes);
    }

    /// Bytes that were never a message.
    #[test]
    fn arbitrary_bytes_decode_or_fail_cleanly(
        bytes in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        decode_all(&bytes);
    }
}
