//! Fuzzing the Arrow descriptor import with proptest (cargo-fuzz needs a
//! nightly toolchain): descriptors the JVM might send, arbitrary or mutated,
//! imported over a real mapped segment published in a real directory entry.
//! Every outcome must be an error or a batch whose every buffer lies inside
//! the mapping and whose arrays validate; never a panic or a stray read.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use flatbuffers::FlatBufferBuilder;
use gatun_arena::{Segment, SegmentLocator};
use gatun_bridge::arrow_plane::{encode_schema, ArenaSizing, ArrowPlane};
use gatun_bridge::layout::{self, directory};
use gatun_bridge::protocol as fb;
use proptest::prelude::*;

/// The JVM segment every case maps.
const JAVA_SEGMENT: u16 = 0x8001;
const SEGMENT_SIZE: usize = 1 << 16;

/// A control segment (zeroed, 8-aligned) with one JVM segment published in
/// directory entry 32, and a plane over it.
struct Fixture {
    // The plane points into `control`; it is dropped first.
    plane: ArrowPlane,
    _java: Segment,
    _control: Vec<u64>,
}

fn fixture() -> Fixture {
    let mut control = vec![0u64; layout::LANES_OFFSET / 8];
    let java = Segment::create("fuzz-java", SEGMENT_SIZE, &std::env::temp_dir()).unwrap();
    // Data for the buffers to point at: offsets that grow, bytes of text.
    // SAFETY: the segment is SEGMENT_SIZE bytes, mapped and ours.
    let bytes = unsafe { std::slice::from_raw_parts_mut(java.as_ptr(), SEGMENT_SIZE) };
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (i % 7) as u8 + if i % 512 < 256 { 0 } else { b'a' };
    }
    let fd = match java.locator() {
        SegmentLocator::Memfd { fd, .. } => *fd,
        SegmentLocator::File(_) => panic!("memfd segments are needed"),
    };
    let base = control.as_mut_ptr().cast::<u8>();
    let slot = layout::PYTHON_DIRECTORY_ENTRIES as usize;
    let entry = layout::DIRECTORY_OFFSET + slot * directory::BYTES;
    // SAFETY: the entry lies inside `control`, and every field is naturally aligned.
    unsafe {
        let at = |off: usize| base.add(entry + off);
        (*at(directory::SEGMENT_ID).cast::<AtomicU32>())
            .store(u32::from(JAVA_SEGMENT), Ordering::Relaxed);
        at(directory::OWNER).write(layout::OWNER_JAVA);
        at(directory::KIND).write(layout::KIND_PAYLOAD);
        (*at(directory::GENERATION).cast::<AtomicU32>()).store(1, Ordering::Relaxed);
        (*at(directory::SIZE).cast::<AtomicU64>()).store(SEGMENT_SIZE as u64, Ordering::Relaxed);
        (*at(directory::MEMFD).cast::<AtomicU32>()).store(fd as u32, Ordering::Relaxed);
        (*at(directory::PUBLISHED).cast::<AtomicU32>())
            .store(layout::ENTRY_LIVE, Ordering::Release);
    }
    let sizing = ArenaSizing {
        segment_size: 1 << 20,
        max_memory: 4 << 20,
    };
    // SAFETY: `control` lives in the fixture, after the plane is dropped.
    let plane = unsafe {
        ArrowPlane::new(
            base,
            sizing,
            gatun_arena::SegmentPlace::Memfd {
                fallback_dir: std::env::temp_dir(),
            },
        )
    };
    plane.set_jvm_pid(std::process::id());
    Fixture {
        plane,
        _java: java,
        _control: control,
    }
}

fn schemas() -> Vec<Schema> {
    vec![
        Schema::new(vec![Field::new("i", DataType::Int32, true)]),
        Schema::new(vec![Field::new("s", DataType::Utf8, true)]),
        Schema::new(vec![Field::new_list(
            "l",
            Field::new("item", DataType::Int64, true),
            true,
        )]),
        Schema::new(vec![
            Field::new("b", DataType::Boolean, false),
            Field::new("v", DataType::BinaryView, true),
        ]),
        Schema::new(vec![Field::new_dictionary(
            "d",
            DataType::Int32,
            DataType::Utf8,
            true,
        )]),
    ]
}

/// A dictionary's length, field nodes and buffers.
type DictionaryParts = (i64, Vec<(i64, i64)>, Vec<(u32, u64, u64)>);

/// Raw descriptor parts: what a buggy or hostile JVM could put in one.
#[derive(Debug, Clone)]
struct Parts {
    schema: usize,
    length: i64,
    nodes: Vec<(i64, i64)>,
    regions: Vec<(u32, u64, u64)>,
    buffers: Vec<(u32, u64, u64)>,
    variadic: Vec<i64>,
    dictionary: Option<DictionaryParts>,
    copy_out: bool,
    define_schema: bool,
}

fn small() -> impl Strategy<Value = i64> {
    prop_oneof![0i64..80, -3i64..0, Just(i64::MAX), Just(i64::MIN)]
}

fn offset() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..1024,
        (0u64..1024).prop_map(|o| o * 64),
        Just(SEGMENT_SIZE as u64 - 8),
        any::<u64>()
    ]
}

fn segment() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => Just(u32::from(JAVA_SEGMENT)),
        1 => Just(0x8002u32), // never published
        1 => Just(1u32),      // Python's: no live region there
        1 => any::<u32>(),
    ]
}

fn buffer() -> impl Strategy<Value = (u32, u64, u64)> {
    (
        prop_oneof![4 => Just(0u32), 1 => 0u32..4],
        offset(),
        prop_oneof![0u64..600, any::<u64>()],
    )
}

fn parts() -> impl Strategy<Value = Parts> {
    (
        0..schemas().len(),
        small(),
        proptest::collection::vec((small(), small()), 0..5),
        proptest::collection::vec(
            (segment(), offset(), prop_oneof![0u64..4096, any::<u64>()]),
            0..3,
        ),
        proptest::collection::vec(buffer(), 0..8),
        proptest::collection::vec(small(), 0..2),
        proptest::option::of((
            small(),
            proptest::collection::vec((small(), small()), 0..2),
            proptest::collection::vec(buffer(), 0..4),
        )),
        any::<bool>(),
        prop_oneof![4 => Just(true), 1 => Just(false)],
    )
        .prop_map(
            |(
                schema,
                length,
                nodes,
                regions,
                buffers,
                variadic,
                dictionary,
                copy_out,
                define_schema,
            )| Parts {
                schema,
                length,
                nodes,
                regions,
                buffers,
                variadic,
                dictionary,
                copy_out,
                define_schema,
            },
        )
}

/// A `Response` whose value is the Arrow batch `p` describes.
fn encode(p: &Parts) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::new();
    let field_nodes = |n: &[(i64, i64)]| {
        n.iter()
            .map(|&(l, c)| fb::FieldNode::new(l, c))
            .collect::<Vec<_>>()
    };
    let buffer_refs = |b: &[(u32, u64, u64)]| {
        b.iter()
            .map(|&(r, o, l)| fb::BufferRef::new(r, 0, o, l))
            .collect::<Vec<_>>()
    };
    let nodes = fbb.create_vector(&field_nodes(&p.nodes));
    let regions: Vec<_> = p
        .regions
        .iter()
        .map(|&(segment, offset, len)| {
            let handle = (u64::from(segment) << layout::HANDLE_SEGMENT_SHIFT) | 1;
            fb::RegionRef::new(handle, segment, 0, offset, len)
        })
        .collect();
    let regions = fbb.create_vector(&regions);
    let buffers = fbb.create_vector(&buffer_refs(&p.buffers));
    let variadic = fbb.create_vector(&p.variadic);
    let dictionaries = p.dictionary.as_ref().map(|(length, n, b)| {
        let nodes = fbb.create_vector(&field_nodes(n));
        let buffers = fbb.create_vector(&buffer_refs(b));
        let d = fb::DictionaryBatch::create(
            &mut fbb,
            &fb::DictionaryBatchArgs {
                id: 0,
                is_delta: false,
                length: *length,
                nodes: Some(nodes),
                buffers: Some(buffers),
                variadic_buffer_counts: None,
            },
        );
        fbb.create_vector(&[d])
    });
    let arrow = fb::BatchDescriptor::create(
        &mut fbb,
        &fb::BatchDescriptorArgs {
            schema_id: 7,
            length: p.length,
            nodes: Some(nodes),
            regions: Some(regions),
            buffers: Some(buffers),
            variadic_buffer_counts: Some(variadic),
            dictionaries,
            copy_out: p.copy_out,
        },
    );
    let schema = p.define_schema.then(|| {
        let ipc = fbb.create_vector(&encode_schema(&schemas()[p.schema]));
        fb::SchemaDefinition::create(
            &mut fbb,
            &fb::SchemaDefinitionArgs {
                schema_id: 7,
                ipc_schema: Some(ipc),
            },
        )
    });
    let value = fb::Value::create(
        &mut fbb,
        &fb::ValueArgs {
            kind: fb::ValueKind::Arrow,
            arrow: Some(arrow),
            schema,
            ..Default::default()
        },
    );
    let response = fb::Response::create(
        &mut fbb,
        &fb::ResponseArgs {
            value: Some(value),
            ..Default::default()
        },
    );
    fbb.finish(response, None);
    fbb.finished_data().to_vec()
}

/// Verifies and imports `bytes`; an accepted batch must validate in full
/// and have every byte of every buffer readable.
fn import(fx: &Fixture, bytes: &[u8]) -> Result<(), TestCaseError> {
    let Ok(response) = fb::read_response(bytes) else {
        return Ok(());
    };
    let Some(value) = response.value() else {
        return Ok(());
    };
    let Some(desc) = value.arrow() else {
        return Ok(());
    };
    let Ok(imported) = fx.plane.import(desc, value.schema()) else {
        return Ok(());
    };
    check(&imported.batch)
}

fn check(batch: &RecordBatch) -> Result<(), TestCaseError> {
    for column in batch.columns() {
        let data = column.to_data();
        prop_assert!(data.validate_full().is_ok(), "{:?}", data.validate_full());
        let mut stack = vec![data];
        while let Some(d) = stack.pop() {
            for b in d.buffers() {
                // Reads every byte: a buffer outside the mapping would fault.
                std::hint::black_box(b.as_slice().iter().fold(0u8, |a, &x| a ^ x));
            }
            stack.extend(d.child_data().iter().cloned());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(400) })]

    /// Descriptors with arbitrary nodes, regions and buffers.
    #[test]
    fn arbitrary_descriptors_import_or_fail_cleanly(p in parts()) {
        let fx = fixture();
        import(&fx, &encode(&p))?;
    }

    /// The same messages with a few bytes changed anywhere (the verifier
    /// turns most away; what it lets through must still be safe to import).
    #[test]
    fn mutated_descriptor_messages_import_or_fail_cleanly(
        p in parts(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
    ) {
        let fx = fixture();
        let mut bytes = encode(&p);
        for (at, byte) in edits {
            let n = bytes.len();
            bytes[at % n] = byte;
        }
        import(&fx, &bytes)?;
    }
}

/// A well-formed descriptor over the mapped segment imports, so the cases
/// above are not all rejected at the first check.
#[test]
fn a_valid_descriptor_imports() {
    let fx = fixture();
    let p = Parts {
        schema: 0,
        length: 4,
        nodes: vec![(4, 0)],
        regions: vec![(u32::from(JAVA_SEGMENT), 0, 4096)],
        buffers: vec![(0, 0, 0), (0, 64, 16)],
        variadic: vec![],
        dictionary: None,
        copy_out: false,
        define_schema: true,
    };
    let bytes = encode(&p);
    let response = fb::read_response(&bytes).unwrap();
    let value = response.value().unwrap();
    let imported = fx
        .plane
        .import(value.arrow().unwrap(), value.schema())
        .unwrap();
    assert_eq!(imported.batch.num_rows(), 4);
    assert_eq!(imported.batch.column(0).len(), 4);
    check(&imported.batch).unwrap();
}
