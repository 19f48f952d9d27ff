//! Rust hot paths, named by axis: `protocol/*` (encode and verify a call),
//! `batch/*` (queue a batch command, assemble and verify a 10K-command batch),
//! `doorbell/*` (the notify/wait atomics), `arena/*` (allocate and free a
//! region), `transfer/*` (flatten and copy a batch into the arena).
//!
//! `cargo bench -p gatun-benches`; the figures are per operation on the
//! machine that runs them (see benches/results/ for the last run).

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use flatbuffers::FlatBufferBuilder;
use gatun_arena::{flatten, Arena, ArenaConfig};
use gatun_bridge::batch::Scalar;
use gatun_bridge::doorbell;
use gatun_bridge::protocol::{self as fb, Action};
use gatun_bridge::protocol::{build_request, RequestHead};
use gatun_bridge::{BatchEncoder, Value};

fn protocol(c: &mut Criterion) {
    let mut g = c.benchmark_group("protocol");
    let mut fbb = FlatBufferBuilder::with_capacity(4096);
    g.bench_function("encode_static_call", |b| {
        b.iter(|| {
            fbb.reset();
            let args = [Value::Int(black_box(-5))];
            let encoded: Vec<_> = args.iter().map(|a| a.encode(&mut fbb)).collect();
            let args = fbb.create_vector(&encoded);
            let head = RequestHead {
                action: Action::InvokeStaticMethod,
                class_name: Some("java.lang.Math"),
                name: Some("abs"),
                ..Default::default()
            };
            let req = build_request(&mut fbb, &head, Some(args), &[], None, false);
            fbb.finish(req, None);
            black_box(fbb.finished_data().len())
        })
    });
    let mut resp = FlatBufferBuilder::new();
    let v = Value::Int(5).encode(&mut resp);
    let r = fb::Response::create(
        &mut resp,
        &fb::ResponseArgs {
            value: Some(v),
            ..Default::default()
        },
    );
    resp.finish(r, None);
    let bytes = resp.finished_data().to_vec();
    g.bench_function("verify_and_decode_response", |b| {
        b.iter(|| {
            let r = fb::read_response(black_box(&bytes)).unwrap();
            black_box(Value::decode(r.value().unwrap()).unwrap())
        })
    });
    g.finish();
}

fn batch(c: &mut Criterion) {
    let mut g = c.benchmark_group("batch");
    let head = RequestHead {
        action: Action::InvokeMethod,
        object_id: 42,
        name: Some("add"),
        ..Default::default()
    };
    let push = |batch: &mut BatchEncoder, i: i64| {
        batch
            .push(&head, |fbb| {
                let arg = Value::Int(i).encode(fbb);
                Ok::<_, ()>(Some(fbb.create_vector(&[arg])))
            })
            .unwrap()
    };
    let mut queued = BatchEncoder::new();
    g.bench_function("push_call", |b| {
        b.iter(|| {
            if queued.len() == 10_000 {
                queued.clear();
            }
            black_box(push(&mut queued, black_box(7)))
        })
    });
    let mut copied = BatchEncoder::new();
    g.bench_function("push_scalar_call", |b| {
        b.iter(|| {
            if copied.len() == 10_000 {
                copied.clear();
            }
            black_box(copied.push_scalars(&head, &[Scalar::Int(black_box(7))]))
        })
    });
    let mut batch = BatchEncoder::new();
    for i in 0..10_000 {
        push(&mut batch, i);
    }
    let (mut header, mut request) = (FlatBufferBuilder::new(), Vec::new());
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("write_request_10k", |b| {
        b.iter(|| {
            batch.write_request(0..10_000, &[], false, &mut header, &mut request);
            black_box(request.len())
        })
    });
    let mut reply = FlatBufferBuilder::new();
    let yes = Value::Bool(true).encode(&mut reply);
    let yes = fb::Response::create(
        &mut reply,
        &fb::ResponseArgs {
            value: Some(yes),
            ..Default::default()
        },
    );
    let items = reply.create_vector(&vec![yes; 10_000]);
    let root = fb::Response::create(
        &mut reply,
        &fb::ResponseArgs {
            batch: Some(items),
            ..Default::default()
        },
    );
    reply.finish(root, None);
    let reply = reply.finished_data().to_vec();
    g.bench_function("verify_shared_reply_10k", |b| {
        b.iter(|| {
            black_box(
                fb::read_response(black_box(&reply))
                    .unwrap()
                    .batch()
                    .unwrap()
                    .len(),
            )
        })
    });
    g.finish();
}

fn doorbell_atomics(c: &mut Criterion) {
    let mut g = c.benchmark_group("doorbell");
    let counter = AtomicU64::new(0);
    let waiting = AtomicU32::new(0);
    let mut seq = 0u64;
    g.bench_function("publish_no_waiter", |b| {
        b.iter(|| {
            seq += 1;
            black_box(doorbell::publish(&counter, &waiting, seq))
        })
    });
    g.bench_function("prepare_to_block_arrived", |b| {
        b.iter(|| black_box(doorbell::prepare_to_block(&counter, &waiting, 1)))
    });
    g.finish();
}

fn arena(c: &mut Criterion) {
    let mut g = c.benchmark_group("arena");
    let arena = Arena::new(ArenaConfig {
        segment_size: 64 << 20,
        max_memory: 64 << 20,
        place: gatun_arena::SegmentPlace::Memfd {
            fallback_dir: std::env::temp_dir(),
        },
        first_segment_id: 1,
    });
    g.bench_function("allocate_free_64k", |b| {
        b.iter(|| {
            let r = arena.allocate(64 << 10).unwrap();
            arena.release_local(black_box(r.handle));
        })
    });
    g.finish();
}

fn transfer(c: &mut Criterion) {
    let mut g = c.benchmark_group("transfer");
    let arena = Arena::new(ArenaConfig {
        segment_size: 1 << 30,
        max_memory: 1 << 30,
        place: gatun_arena::SegmentPlace::Memfd {
            fallback_dir: std::env::temp_dir(),
        },
        first_segment_id: 1,
    });
    for rows in [10_000usize, 1_000_000] {
        let batch = RecordBatch::try_from_iter(vec![
            (
                "i",
                Arc::new(Int64Array::from_iter_values(0..rows as i64)) as ArrayRef,
            ),
            (
                "f",
                Arc::new(Float64Array::from_iter_values((0..rows).map(|x| x as f64))) as ArrayRef,
            ),
            (
                "s",
                Arc::new(StringArray::from_iter_values(
                    (0..rows).map(|x| format!("s{x}")),
                )) as ArrayRef,
            ),
        ])
        .unwrap();
        let flat = flatten(&batch).unwrap();
        let bytes = flat.arena_bytes();
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_with_input(BenchmarkId::new("flatten", rows), &batch, |b, batch| {
            b.iter(|| black_box(flatten(batch).unwrap().buffers.len()))
        });
        g.bench_with_input(BenchmarkId::new("copy", rows), &flat, |b, flat| {
            let region = arena.allocate(bytes).unwrap();
            b.iter(|| {
                let mut at = 0;
                for buf in &flat.buffers {
                    // SAFETY: the region holds arena_bytes(), the sum of the aligned lengths.
                    unsafe {
                        std::ptr::copy_nonoverlapping(buf.as_ptr(), region.ptr.add(at), buf.len())
                    };
                    at += buf.len().div_ceil(64) * 64;
                }
            });
            arena.release_local(region.handle);
        });
    }
    g.finish();
}

criterion_group!(benches, protocol, batch, doorbell_atomics, arena, transfer);
criterion_main!(benches);
