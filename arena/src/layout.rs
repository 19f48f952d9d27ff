//! Arrow buffer layout: a record batch flattened into IPC order.
//!
//! The descriptor that crosses to Java is Arrow IPC's own `RecordBatch`
//! structure: one `FieldNode` per array (depth first) and its buffers in the
//! order the IPC format lists them. Sliced arrays are first rewritten to
//! offset 0 (a copy: offsets rebased, bitmaps shifted), which is what the IPC
//! writer does; the rules for which buffers a type has are the IPC format's.

use std::fmt;

use arrow_array::{Array, RecordBatch};
use arrow_buffer::Buffer;
use arrow_data::{transform::MutableArrayData, ArrayData};
use arrow_schema::{DataType, Field, Schema, UnionMode};

/// Why a batch cannot cross to Arrow Java.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutError {
    /// Dotted path of the offending column (e.g. `points.x`).
    pub column: String,
    /// What is wrong and what to do.
    pub reason: String,
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column '{}': {}", self.column, self.reason)
    }
}

impl std::error::Error for LayoutError {}

/// A batch as IPC nodes and buffers (buffers share memory with the batch,
/// except for columns that had to be unsliced).
#[derive(Debug, Clone)]
pub struct FlatBatch {
    /// Rows.
    pub length: usize,
    /// `(length, null_count)` per array, depth first.
    pub nodes: Vec<(i64, i64)>,
    /// Buffers in IPC order; an absent buffer is empty.
    pub buffers: Vec<Buffer>,
    /// Data buffers of each view-typed array, in order.
    pub variadic_buffer_counts: Vec<i64>,
    /// `(buffer index, rows)` of each validity bitmap left out because its
    /// array has no nulls (Arrow Java allocates and fills one for such an
    /// array unless it is given a bitmap).
    pub absent_validity: Vec<(usize, usize)>,
    /// The value arrays of dictionary-encoded columns, in a depth-first walk
    /// of the schema (the order Arrow IPC numbers dictionaries in: id = index).
    pub dictionaries: Vec<FlatBatch>,
}

impl FlatBatch {
    /// Bytes the buffers need in the arena, each 64-byte aligned.
    pub fn arena_bytes(&self) -> usize {
        self.buffers
            .iter()
            .map(|b| b.len().div_ceil(64) * 64)
            .sum::<usize>()
            + self
                .dictionaries
                .iter()
                .map(FlatBatch::arena_bytes)
                .sum::<usize>()
    }

    fn empty(length: usize) -> FlatBatch {
        FlatBatch {
            length,
            nodes: Vec::new(),
            buffers: Vec::new(),
            variadic_buffer_counts: Vec::new(),
            absent_validity: Vec::new(),
            dictionaries: Vec::new(),
        }
    }
}

/// Refuses, before any data moves, a schema with a type Arrow Java cannot
/// load, naming the column and the cast that works.
pub fn check_schema(schema: &Schema) -> Result<(), LayoutError> {
    schema
        .fields()
        .iter()
        .try_for_each(|f| check_field(f, f.name()))
}

/// The Arrow Java the server jar is built with (`arrow.version` in
/// java/pom.xml; tests/python/test_arrow_java.py checks they agree), named
/// in refusals of types it cannot load.
pub const ARROW_JAVA_VERSION: &str = "19.0.0";

fn check_field(field: &Field, path: &str) -> Result<(), LayoutError> {
    let refuse = |reason: String| {
        Err(LayoutError {
            column: path.to_owned(),
            reason,
        })
    };
    match field.data_type() {
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) => refuse(format!(
            "Arrow type {} cannot be loaded by Arrow Java {ARROW_JAVA_VERSION} (the server's); \
             cast to Decimal128({p}, {s})",
            field.data_type()
        )),
        DataType::Dictionary(_, value) if contains_dictionary(value) => refuse(format!(
            "a dictionary whose values are themselves dictionary-encoded ({value}) cannot cross; \
             decode the inner dictionary first"
        )),
        DataType::Dictionary(_, value) => check_field(
            &Field::new(field.name(), value.as_ref().clone(), true),
            path,
        ),
        dt => {
            let children: Vec<&Field> = match dt {
                DataType::List(c)
                | DataType::LargeList(c)
                | DataType::FixedSizeList(c, _)
                | DataType::ListView(c)
                | DataType::LargeListView(c)
                | DataType::Map(c, _) => vec![c.as_ref()],
                DataType::Struct(fields) => fields.iter().map(|f| f.as_ref()).collect(),
                DataType::Union(fields, _) => fields.iter().map(|(_, f)| f.as_ref()).collect(),
                DataType::RunEndEncoded(r, v) => vec![r.as_ref(), v.as_ref()],
                _ => Vec::new(),
            };
            children
                .into_iter()
                .try_for_each(|c| check_field(c, &format!("{path}.{}", c.name())))
        }
    }
}

fn contains_dictionary(dt: &DataType) -> bool {
    match dt {
        DataType::Dictionary(_, _) => true,
        DataType::List(c)
        | DataType::LargeList(c)
        | DataType::FixedSizeList(c, _)
        | DataType::ListView(c)
        | DataType::LargeListView(c)
        | DataType::Map(c, _) => contains_dictionary(c.data_type()),
        DataType::Struct(fields) => fields.iter().any(|f| contains_dictionary(f.data_type())),
        DataType::Union(fields, _) => fields
            .iter()
            .any(|(_, f)| contains_dictionary(f.data_type())),
        DataType::RunEndEncoded(r, v) => {
            contains_dictionary(r.data_type()) || contains_dictionary(v.data_type())
        }
        _ => false,
    }
}

/// True if the schema has a dictionary-encoded column at any depth.
pub fn has_dictionaries(schema: &Schema) -> bool {
    schema
        .fields()
        .iter()
        .any(|f| contains_dictionary(f.data_type()))
}

/// Flattens `batch` into IPC order, unslicing where needed.
pub fn flatten(batch: &RecordBatch) -> Result<FlatBatch, LayoutError> {
    check_schema(batch.schema_ref())?;
    let mut flat = FlatBatch::empty(batch.num_rows());
    for (column, field) in batch.columns().iter().zip(batch.schema_ref().fields()) {
        let error = |reason| LayoutError {
            column: field.name().clone(),
            reason,
        };
        let data = column.to_data();
        let data = if is_sliced(&data) {
            unslice(&data).map_err(error)?
        } else {
            data
        };
        walk(&data, &mut flat).map_err(error)?;
    }
    Ok(flat)
}

/// True if any array in the tree starts at a nonzero offset, including
/// arrow-rs's way of slicing variable-length arrays: offset 0, but an offsets
/// buffer whose first entry is not 0 (so the values or child hold more than
/// the slice).
fn is_sliced(data: &ArrayData) -> bool {
    let first_offset_nonzero = match data.data_type() {
        DataType::Utf8 | DataType::Binary | DataType::List(_) | DataType::Map(_, _) => data
            .buffers()[0]
            .typed_data::<i32>()
            .first()
            .is_some_and(|&o| o != 0),
        DataType::LargeUtf8 | DataType::LargeBinary | DataType::LargeList(_) => data.buffers()[0]
            .typed_data::<i64>()
            .first()
            .is_some_and(|&o| o != 0),
        _ => false,
    };
    // A dictionary's values are flattened on their own (see `walk`).
    let children_sliced = !matches!(data.data_type(), DataType::Dictionary(_, _))
        && data.child_data().iter().any(is_sliced);
    data.offset() != 0
        || first_offset_nonzero
        || data.nulls().is_some_and(|n| n.offset() != 0)
        || children_sliced
}

/// A copy of `data` starting at offset 0 (offsets rebased, bitmaps shifted).
pub fn unslice(data: &ArrayData) -> Result<ArrayData, String> {
    let mut m = MutableArrayData::new(vec![data], false, data.len());
    m.try_extend(0, 0, data.len()).map_err(|e| e.to_string())?;
    Ok(m.freeze())
}

fn walk(data: &ArrayData, flat: &mut FlatBatch) -> Result<(), String> {
    flat.nodes
        .push((data.len() as i64, data.null_count() as i64));
    let has_validity = !matches!(
        data.data_type(),
        DataType::Null | DataType::Union(_, _) | DataType::RunEndEncoded(_, _)
    );
    if has_validity {
        let validity = match data.nulls() {
            // Its own bitmap even without nulls: Java keeps a bitmap it is
            // given, and allocates and fills one when it is not.
            Some(n) => n.buffer().clone(),
            None => {
                if !data.is_empty() {
                    flat.absent_validity.push((flat.buffers.len(), data.len()));
                }
                Buffer::from_vec(Vec::<u8>::new())
            }
        };
        flat.buffers.push(validity);
    }
    match data.data_type() {
        DataType::Null | DataType::RunEndEncoded(_, _) => {}
        DataType::Union(_, mode) => {
            flat.buffers.push(data.buffers()[0].clone());
            if *mode == UnionMode::Dense {
                flat.buffers.push(data.buffers()[1].clone());
            }
        }
        DataType::Utf8View | DataType::BinaryView => {
            flat.buffers.extend(data.buffers().iter().cloned());
            flat.variadic_buffer_counts
                .push(data.buffers().len() as i64 - 1);
        }
        DataType::Dictionary(_, _) => {
            // The column itself is its keys; the values travel as a
            // dictionary batch of their own.
            flat.buffers.push(data.buffers()[0].clone());
            let values = &data.child_data()[0];
            let values = if is_sliced(values) {
                unslice(values)?
            } else {
                values.clone()
            };
            let mut dictionary = FlatBatch::empty(values.len());
            walk(&values, &mut dictionary)?;
            flat.dictionaries.push(dictionary);
            return Ok(());
        }
        _ => flat.buffers.extend(data.buffers().iter().cloned()),
    }
    data.child_data()
        .iter()
        .try_for_each(|child| walk(child, flat))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{
        types::Int32Type, ArrayRef, Int32Array, ListArray, StringArray, StructArray,
    };
    use std::sync::Arc;

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).unwrap()
    }

    #[test]
    fn primitives_and_strings_follow_ipc_order() {
        let b = batch(vec![
            (
                "i",
                Arc::new(Int32Array::from(vec![Some(1), None, Some(3)])) as ArrayRef,
            ),
            (
                "s",
                Arc::new(StringArray::from(vec!["a", "bc", "def"])) as ArrayRef,
            ),
        ]);
        let flat = flatten(&b).unwrap();
        assert_eq!(flat.nodes, vec![(3, 1), (3, 0)]);
        assert_eq!(
            flat.buffers.len(),
            5,
            "validity+values, validity+offsets+data"
        );
        assert_eq!(flat.buffers[2].len(), 0, "no nulls: validity absent");
        assert_eq!(flat.absent_validity, vec![(2, 3)]);
        assert_eq!(flat.buffers[4].as_slice(), b"abcdef");
    }

    #[test]
    fn sliced_columns_are_rebased() {
        let s: ArrayRef = Arc::new(StringArray::from(vec!["zero", "one", "two", "three"]));
        let b = batch(vec![("s", s.slice(1, 2))]);
        let flat = flatten(&b).unwrap();
        let offsets: Vec<i32> = flat.buffers[1]
            .as_slice()
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(&offsets[..3], &[0, 3, 6]);
        assert_eq!(&flat.buffers[2].as_slice()[..6], b"onetwo");
    }

    #[test]
    fn sliced_nulls_are_shifted() {
        let a: ArrayRef = Arc::new(Int32Array::from(vec![
            None,
            Some(1),
            None,
            Some(3),
            Some(4),
            None,
            None,
            None,
            Some(9),
        ]));
        let b = batch(vec![("a", a.slice(3, 6))]);
        let flat = flatten(&b).unwrap();
        assert_eq!(flat.nodes, vec![(6, 3)]);
        let bits = flat.buffers[0].as_slice()[0];
        assert_eq!(
            bits & 0b11_1111,
            0b10_0011,
            "valid, valid, null, null, null, valid"
        );
    }

    #[test]
    fn nested_types_walk_depth_first() {
        let list: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), Some(2)]),
            None,
        ]));
        let strct: ArrayRef = Arc::new(StructArray::from(vec![(
            Arc::new(Field::new("x", DataType::Int32, false)),
            Arc::new(Int32Array::from(vec![5, 6])) as ArrayRef,
        )]));
        let flat = flatten(&batch(vec![("l", list), ("st", strct)])).unwrap();
        assert_eq!(flat.nodes, vec![(2, 1), (2, 0), (2, 0), (2, 0)]);
        // list: validity, offsets; child: validity, values; struct: validity; x: validity, values
        assert_eq!(flat.buffers.len(), 7);
    }

    #[test]
    fn unloadable_types_are_refused_with_the_column_and_a_cast() {
        let schema = Schema::new(vec![Field::new(
            "s",
            DataType::Struct(vec![Field::new("d", DataType::Decimal32(5, 2), true)].into()),
            true,
        )]);
        let err = check_schema(&schema).unwrap_err();
        assert_eq!(err.column, "s.d");
        assert!(err.reason.contains("Decimal128(5, 2)"), "{err}");
    }
}
