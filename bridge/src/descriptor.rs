//! The descriptor of a batch sent to the JVM: IPC's own `RecordBatch`
//! structure (field nodes, buffers, variadic counts, dictionaries) with each
//! buffer placed in an arena region instead of a message body. This file
//! encodes it from a [`PreparedBatch`]; the JVM's descriptors are read back
//! by [`ArrowPlane::import`](crate::arrow_plane::ArrowPlane::import).

use flatbuffers::{FlatBufferBuilder, WIPOffset};
use gatun_arena::Region;

use crate::protocol as fb;

/// A batch ready to describe: its regions and layout.
pub struct PreparedBatch {
    /// Regions the buffers live in: the copy region (if anything was copied)
    /// and every arena region referenced in place. The JVM holds each once.
    pub regions: Vec<Region>,
    /// (region index, offset in region, length) per buffer, IPC order.
    pub buffers: Vec<(usize, usize, usize)>,
    /// Bytes copied into the arena (0: the zero-copy path).
    pub copied_bytes: usize,
    /// Field nodes.
    pub nodes: Vec<(i64, i64)>,
    /// Variadic buffer counts.
    pub variadic: Vec<i64>,
    /// Rows.
    pub length: i64,
    /// Schema id, and its IPC bytes when the JVM has not seen it yet.
    pub schema_id: u32,
    /// IPC Schema message, if new to the JVM.
    pub new_schema: Option<Vec<u8>>,
    /// The values of each dictionary-encoded column (id = index), placed in
    /// the same regions as the batch.
    pub dictionaries: Vec<PreparedDictionary>,
    /// The arena was above its high-water mark: the JVM copies the batch out
    /// and releases its regions at once.
    pub copy_out: bool,
}

/// A dictionary's value array, placed in the arena with its batch.
pub struct PreparedDictionary {
    /// Values.
    pub length: i64,
    /// Field nodes.
    pub nodes: Vec<(i64, i64)>,
    /// (region index, offset in region, length) per buffer, IPC order.
    pub buffers: Vec<(usize, usize, usize)>,
    /// Variadic buffer counts.
    pub variadic: Vec<i64>,
}

fn buffer_refs(buffers: &[(usize, usize, usize)]) -> Vec<fb::BufferRef> {
    buffers
        .iter()
        .map(|&(r, o, l)| fb::BufferRef::new(r as u32, 0, o as u64, l as u64))
        .collect()
}

fn encode_dictionary<'b>(
    fbb: &mut FlatBufferBuilder<'b>,
    id: i64,
    d: &PreparedDictionary,
) -> WIPOffset<fb::DictionaryBatch<'b>> {
    let nodes: Vec<_> = d
        .nodes
        .iter()
        .map(|&(l, n)| fb::FieldNode::new(l, n))
        .collect();
    let nodes = fbb.create_vector(&nodes);
    let buffers = fbb.create_vector(&buffer_refs(&d.buffers));
    let variadic = fbb.create_vector(&d.variadic);
    fb::DictionaryBatch::create(
        fbb,
        &fb::DictionaryBatchArgs {
            id,
            is_delta: false,
            length: d.length,
            nodes: Some(nodes),
            buffers: Some(buffers),
            variadic_buffer_counts: Some(variadic),
        },
    )
}

/// Encodes the descriptor (and schema definition, if new) of a prepared batch.
pub fn encode_descriptor<'b>(
    fbb: &mut FlatBufferBuilder<'b>,
    p: &PreparedBatch,
) -> (
    WIPOffset<fb::BatchDescriptor<'b>>,
    Option<WIPOffset<fb::SchemaDefinition<'b>>>,
) {
    let nodes: Vec<_> = p
        .nodes
        .iter()
        .map(|&(l, n)| fb::FieldNode::new(l, n))
        .collect();
    let regions: Vec<_> = p
        .regions
        .iter()
        .map(|r| {
            fb::RegionRef::new(
                r.handle.0,
                u32::from(r.segment),
                0,
                r.offset as u64,
                r.len as u64,
            )
        })
        .collect();
    let buffers = buffer_refs(&p.buffers);
    let nodes = fbb.create_vector(&nodes);
    let regions = fbb.create_vector(&regions);
    let buffers = fbb.create_vector(&buffers);
    let variadic = fbb.create_vector(&p.variadic);
    let dictionaries = (!p.dictionaries.is_empty()).then(|| {
        let encoded: Vec<_> = p
            .dictionaries
            .iter()
            .enumerate()
            .map(|(id, d)| encode_dictionary(fbb, id as i64, d))
            .collect();
        fbb.create_vector(&encoded)
    });
    let descriptor = fb::BatchDescriptor::create(
        fbb,
        &fb::BatchDescriptorArgs {
            schema_id: p.schema_id,
            length: p.length,
            nodes: Some(nodes),
            regions: Some(regions),
            buffers: Some(buffers),
            variadic_buffer_counts: Some(variadic),
            dictionaries,
            copy_out: p.copy_out,
        },
    );
    let schema = p.new_schema.as_ref().map(|bytes| {
        let ipc = fbb.create_vector(bytes);
        fb::SchemaDefinition::create(
            fbb,
            &fb::SchemaDefinitionArgs {
                schema_id: p.schema_id,
                ipc_schema: Some(ipc),
            },
        )
    });
    (descriptor, schema)
}
