//! `NativeClient.send_arrow`: any Arrow producer (PyCapsule interface) to the
//! JVM through the payload arena.
//!
//! A stream is sent batch by batch as it is read, never collected into one
//! table first; each batch is copied once into the arena (data already built
//! in the arena is the zero-copy path, issue 3 item 3).

use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;

use gatun_bridge::protocol::BatchTarget;
use gatun_bridge::BridgeError;

use crate::client::NativeClient;
use crate::convert;
use crate::errors::to_py;
use crate::object_ref::ObjectRef;

/// Largest batch sent in one piece: a region lives in one segment (at most
/// 1 GiB), so bigger batches are re-chunked by rows (also keeping Java's
/// `int` row counts in range).
const MAX_BATCH_BYTES: usize = 512 << 20;

fn split_oversized(
    batch: Result<arrow_array::RecordBatch, arrow_schema::ArrowError>,
) -> Vec<Result<arrow_array::RecordBatch, arrow_schema::ArrowError>> {
    let Ok(batch) = batch else { return vec![batch] };
    let bytes = batch.get_array_memory_size();
    let rows = batch.num_rows();
    let max_rows = (i32::MAX as usize).min(if bytes > MAX_BATCH_BYTES {
        (rows * MAX_BATCH_BYTES / bytes).max(1)
    } else {
        rows.max(1)
    });
    if rows <= max_rows {
        return vec![Ok(batch)];
    }
    (0..rows)
        .step_by(max_rows)
        .map(|start| Ok(batch.slice(start, max_rows.min(rows - start))))
        .collect()
}

/// The object id of the reader an opening `ArrowStream` answered with.
fn reader_id(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<i64> {
    value
        .cast::<ObjectRef>()
        .map(|r| r.get().object_id())
        .map_err(|_| {
            to_py(
                py,
                BridgeError::Protocol("ArrowStream did not answer with a reader".into()),
            )
        })
}

impl NativeClient {
    /// Sends every batch of `data`: one batch as a `VectorSchemaRoot`; several
    /// (a table's chunks, the pieces of an oversized batch), or any batch
    /// with dictionary-encoded columns, into one `BridgeArrowReader`, pushed
    /// whole. Returns the one Java reference. Streams are pulled instead
    /// (`stream_one`).
    pub(crate) fn send_arrow_batches<'py>(
        &self,
        py: Python<'py>,
        data: AnyRecordBatch,
    ) -> PyResult<Bound<'py, PyAny>> {
        let hooks = self.hooks()?;
        let reader = data.into_reader()?;
        let schema = reader.schema();
        gatun_arena::check_schema(&schema)
            .map_err(|e| to_py(py, BridgeError::UnsupportedArrowType(e.to_string())))?;
        let dictionaries = gatun_arena::has_dictionaries(&schema);
        // A stream with no batches still has a schema: send one empty batch
        // so the JVM gets a root with its columns.
        let empty = arrow_array::RecordBatch::new_empty(schema);
        let mut batches = reader.peekable();
        let first: Box<
            dyn Iterator<Item = Result<arrow_array::RecordBatch, arrow_schema::ArrowError>>,
        > = if batches.peek().is_none() {
            Box::new(std::iter::once(Ok(empty)))
        } else {
            Box::new(batches)
        };
        let mut batches = first.flat_map(split_oversized).peekable();
        // One root for one batch; several (chunks, or pieces of an oversized
        // batch) go into one reader, as do dictionaries (the reader holds them).
        let first = batches.next();
        let as_reader = dictionaries || batches.peek().is_some();
        let mut sent = None;
        let mut reader_id = 0i64;
        let mut batches = first.into_iter().chain(batches).peekable();
        while let Some(batch) = batches.next() {
            let batch = batch.map_err(|e| {
                to_py(
                    py,
                    BridgeError::Value(format!("reading the Arrow stream: {e}")),
                )
            })?;
            let target = if as_reader {
                BatchTarget::Stream {
                    reader: reader_id,
                    end: batches.peek().is_none(),
                }
            } else {
                BatchTarget::Root
            };
            let value = self.send_one(py, &batch, target, hooks)?;
            if sent.is_none() {
                if as_reader {
                    reader_id = self::reader_id(py, &value)?;
                }
                sent = Some(value);
            }
        }
        Ok(sent.expect("at least one batch is sent (an empty one for no batches)"))
    }

    /// Sends one batch into a Java `BridgeArrowReader`: `reader` 0 opens a
    /// new one (its reference is returned), else the reader's object id.
    /// An oversized batch goes as several (the reader a first piece opens
    /// takes the rest); the reference of an opened reader is returned.
    pub(crate) fn stream_one<'py>(
        &self,
        py: Python<'py>,
        batch: arrow_array::RecordBatch,
        reader: i64,
        end: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        gatun_arena::check_schema(batch.schema_ref())
            .map_err(|e| to_py(py, BridgeError::UnsupportedArrowType(e.to_string())))?;
        let hooks = self.hooks()?;
        let pieces = split_oversized(Ok(batch));
        let last = pieces.len() - 1;
        let (mut target, mut opened) = (reader, None);
        for (i, piece) in pieces.into_iter().enumerate() {
            let piece = piece.expect("split_oversized keeps an Ok batch Ok");
            let end = end && i == last;
            let value = self.send_one(
                py,
                &piece,
                BatchTarget::Stream {
                    reader: target,
                    end,
                },
                hooks,
            )?;
            if target == 0 {
                target = reader_id(py, &value)?;
                opened = Some(value);
            }
        }
        Ok(opened.unwrap_or_else(|| py.None().into_bound(py)))
    }

    fn send_one<'py>(
        &self,
        py: Python<'py>,
        batch: &arrow_array::RecordBatch,
        target: BatchTarget,
        hooks: &convert::Hooks,
    ) -> PyResult<Bound<'py, PyAny>> {
        let client = self.client();
        let prepared = py
            .detach(|| client.prepare_batch(batch))
            .map_err(|e| to_py(py, e))?;
        let mut scratch = client.scratch();
        client.encode_send_batch(&mut scratch.builder, &prepared, target);
        if let Err(e) = self.exchange(py, &mut scratch) {
            if !client.is_closed() {
                client.arrow().abandon(&prepared);
            }
            return Err(e);
        }
        let response = scratch.response().map_err(|e| to_py(py, e))?;
        if let Some(error) = response.error() {
            return Err(to_py(py, gatun_bridge::protocol::java_error(error)));
        }
        if prepared.new_schema.is_some() {
            client.arrow().confirm_schema(prepared.schema_id);
        }
        Ok(match response.value() {
            Some(v) => convert::decode(py, v, hooks, 0)?,
            None => py.None().into_bound(py),
        })
    }

    /// Bytes of the payload arena in live regions.
    pub(crate) fn arena_bytes(&self) -> usize {
        let plane = self.client().arrow();
        plane.drain_releases();
        let cached = plane.idle_cache().map_or(0, |r| r.len);
        plane.arena().in_use() - cached
    }

    /// Live regions of the payload arena.
    pub(crate) fn arena_regions(&self) -> usize {
        let plane = self.client().arrow();
        plane.drain_releases();
        let cached = usize::from(plane.idle_cache().is_some());
        plane.arena().live_regions() - cached
    }
}
