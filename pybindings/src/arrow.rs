//! `NativeClient.send_arrow`: any Arrow producer (PyCapsule interface) to the
//! JVM through the payload arena.
//!
//! A stream is sent batch by batch as it is read, never collected into one
//! table first; each batch is copied once into the arena (data already built
//! in the arena is the zero-copy path, issue 3 item 3).

use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;

use gatun_bridge::BridgeError;

use crate::client::NativeClient;
use crate::convert;
use crate::errors::to_py;

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

impl NativeClient {
    /// Sends every batch of `data`; returns one Java reference per batch.
    pub(crate) fn send_arrow_batches<'py>(
        &self,
        py: Python<'py>,
        data: AnyRecordBatch,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let hooks = self.hooks()?;
        let reader = data.into_reader()?;
        // A stream with no batches still has a schema: send one empty batch
        // so the JVM gets a root with its columns.
        let empty = arrow_array::RecordBatch::new_empty(reader.schema());
        let mut batches = reader.peekable();
        let first: Box<
            dyn Iterator<Item = Result<arrow_array::RecordBatch, arrow_schema::ArrowError>>,
        > = if batches.peek().is_none() {
            Box::new(std::iter::once(Ok(empty)))
        } else {
            Box::new(batches)
        };
        let mut roots = Vec::new();
        for batch in first.flat_map(split_oversized) {
            let batch = batch.map_err(|e| {
                to_py(
                    py,
                    BridgeError::Value(format!("reading the Arrow stream: {e}")),
                )
            })?;
            let client = self.client();
            let prepared = py
                .detach(|| client.prepare_batch(&batch))
                .map_err(|e| to_py(py, e))?;
            let mut scratch = client.scratch();
            client.encode_send_batch(&mut scratch.builder, &prepared);
            if let Err(e) = self.exchange(py, &mut scratch) {
                if !client.is_closed() {
                    client.arrow().abandon(&prepared);
                }
                return Err(e);
            }
            let response = scratch.response().map_err(|e| to_py(py, e))?;
            if let Some(error) = response.error() {
                return Err(to_py(py, gatun_bridge::client::java_error(error)));
            }
            if prepared.new_schema.is_some() {
                client.arrow().confirm_schema(prepared.schema_id);
            }
            roots.push(match response.value() {
                Some(v) => convert::decode(py, v, hooks, 0)?,
                None => py.None().into_bound(py),
            });
        }
        Ok(roots)
    }

    /// Bytes of the payload arena in live regions.
    pub(crate) fn arena_bytes(&self) -> usize {
        self.client().arrow().drain_releases();
        self.client().arrow().arena().in_use()
    }

    /// Live regions of the payload arena.
    pub(crate) fn arena_regions(&self) -> usize {
        self.client().arrow().drain_releases();
        self.client().arrow().arena().live_regions()
    }
}
