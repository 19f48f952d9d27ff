//! `gatun._native.record_batches`: any Arrow producer seen as a stream of
//! record batches, so that every producer crosses by one path.
//!
//! A struct-typed producer (a table, a record batch, a polars `DataFrame`)
//! is already a stream of batches: its fields are the columns. Any other type
//! (a pyarrow `Array` or `ChunkedArray`, a polars `Series`, a nanoarrow array)
//! becomes batches of one column, named after the producer's field, or
//! [`DEFAULT_COLUMN`] when the field has no name. The stream is wrapped, never
//! read ahead: each chunk is turned into a batch when the consumer asks.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchOptions, RecordBatchReader};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use pyo3::prelude::*;
use pyo3_arrow::ffi::ArrayReader;
use pyo3_arrow::input::AnyArray;
use pyo3_arrow::PyRecordBatchReader;

/// Name of the one column made from a producer whose field has no name (a
/// pyarrow `Array` or `ChunkedArray`).
pub(crate) const DEFAULT_COLUMN: &str = "values";

/// The batches of `data`; see the module documentation.
#[pyfunction]
pub(crate) fn record_batches(data: AnyArray) -> PyResult<PyRecordBatchReader> {
    let arrays = data.into_reader()?;
    Ok(PyRecordBatchReader::new(Box::new(Columns::new(arrays))))
}

/// A record batch reader over an array reader.
struct Columns {
    arrays: Box<dyn ArrayReader + Send>,
    schema: SchemaRef,
    /// The arrays are structs whose fields are the columns.
    split: bool,
}

impl Columns {
    fn new(arrays: Box<dyn ArrayReader + Send>) -> Self {
        let field = arrays.field();
        let (schema, split) = match field.data_type() {
            DataType::Struct(fields) => (
                Schema::new_with_metadata(fields.clone(), field.metadata().clone()),
                true,
            ),
            _ => {
                let column = if field.name().is_empty() {
                    field.as_ref().clone().with_name(DEFAULT_COLUMN)
                } else {
                    field.as_ref().clone()
                };
                (Schema::new(vec![Arc::new(column) as Arc<Field>]), false)
            }
        };
        Columns {
            arrays,
            schema: Arc::new(schema),
            split,
        }
    }

    fn batch(&self, array: ArrayRef) -> Result<RecordBatch, ArrowError> {
        if !self.split {
            return RecordBatch::try_new(self.schema.clone(), vec![array]);
        }
        let rows = array.as_struct_opt().ok_or_else(|| {
            ArrowError::SchemaError(format!(
                "the producer declared a struct type but gave a {} array",
                array.data_type()
            ))
        })?;
        if rows.null_count() > 0 {
            return Err(ArrowError::InvalidArgumentError(format!(
                "a struct array with null rows ({} of {}) cannot be split into a root's \
                 columns; wrap it as one column instead (pa.table({{\"name\": array}}))",
                rows.null_count(),
                rows.len()
            )));
        }
        // The row count is explicit so that a struct of no fields keeps it.
        let options = RecordBatchOptions::new().with_row_count(Some(rows.len()));
        RecordBatch::try_new_with_options(self.schema.clone(), rows.columns().to_vec(), &options)
    }
}

impl Iterator for Columns {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.arrays.next()?.and_then(|array| self.batch(array)))
    }
}

impl RecordBatchReader for Columns {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}
