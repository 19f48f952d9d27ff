//! Arrow data received from the peer: IPC-order nodes and buffers back into
//! validated arrays.
//!
//! The inverse of [`layout`](crate::layout): the schema says which buffers
//! each array has; the descriptor gives them in that order. Every array is
//! built with `ArrayData::try_new`, which validates lengths, offsets and
//! UTF-8, so a corrupt descriptor is an error, never a read outside the data.

use std::collections::VecDeque;
use std::sync::Arc;

use arrow_array::{make_array, RecordBatch, RecordBatchOptions};
use arrow_buffer::Buffer;
use arrow_data::ArrayData;
use arrow_schema::{DataType, Field, Schema, UnionMode};

/// The buffers and nodes of one batch, consumed in IPC order.
pub struct IpcParts {
    nodes: VecDeque<(i64, i64)>,
    buffers: VecDeque<Buffer>,
    variadic: VecDeque<i64>,
    /// The values of each dictionary-encoded column, in a depth-first walk
    /// of the schema: (length, parts).
    dictionaries: VecDeque<(i64, IpcParts)>,
}

impl IpcParts {
    /// Wraps a batch's parts.
    pub fn new(nodes: Vec<(i64, i64)>, buffers: Vec<Buffer>, variadic: Vec<i64>) -> Self {
        IpcParts {
            nodes: nodes.into(),
            buffers: buffers.into(),
            variadic: variadic.into(),
            dictionaries: VecDeque::new(),
        }
    }

    /// Adds the dictionaries (value arrays as one-column parts, with their
    /// lengths) of the batch's dictionary-encoded columns, in schema order.
    pub fn with_dictionaries(mut self, dictionaries: Vec<(i64, IpcParts)>) -> Self {
        self.dictionaries = dictionaries.into();
        self
    }

    fn finished(&self) -> Result<(), String> {
        if !self.nodes.is_empty() || !self.buffers.is_empty() {
            return Err(format!(
                "descriptor has {} nodes and {} buffers more than the schema uses",
                self.nodes.len(),
                self.buffers.len()
            ));
        }
        Ok(())
    }

    fn node(&mut self, field: &Field) -> Result<(usize, usize), String> {
        let (len, nulls) = self
            .nodes
            .pop_front()
            .ok_or_else(|| format!("field '{}': descriptor has too few nodes", field.name()))?;
        if len < 0 || nulls < 0 || nulls > len || len > i64::from(i32::MAX) {
            return Err(format!(
                "field '{}': bad node (length {len}, nulls {nulls})",
                field.name()
            ));
        }
        Ok((len as usize, nulls as usize))
    }

    fn buffer(&mut self, field: &Field) -> Result<Buffer, String> {
        self.buffers
            .pop_front()
            .ok_or_else(|| format!("field '{}': descriptor has too few buffers", field.name()))
    }
}

/// Rebuilds a batch of `schema` from `parts`; checks that every node and
/// buffer is used.
pub fn build_batch(
    schema: Arc<Schema>,
    length: i64,
    mut parts: IpcParts,
) -> Result<RecordBatch, String> {
    if length < 0 || length > i64::from(i32::MAX) {
        return Err(format!("bad batch length {length}"));
    }
    let columns = schema
        .fields()
        .iter()
        .map(|f| read_array(f, &mut parts).map(make_array))
        .collect::<Result<Vec<_>, _>>()?;
    parts.finished()?;
    if !parts.dictionaries.is_empty() {
        return Err(format!(
            "descriptor has {} dictionaries more than the schema's dictionary-encoded columns",
            parts.dictionaries.len()
        ));
    }
    let options = RecordBatchOptions::new().with_row_count(Some(length as usize));
    RecordBatch::try_new_with_options(schema, columns, &options).map_err(|e| e.to_string())
}

fn data_buffers(dt: &DataType, parts: &mut IpcParts, field: &Field) -> Result<Vec<Buffer>, String> {
    let count = match dt {
        DataType::Struct(_) | DataType::FixedSizeList(_, _) => 0,
        DataType::Utf8 | DataType::Binary | DataType::LargeUtf8 | DataType::LargeBinary => 2,
        DataType::ListView(_) | DataType::LargeListView(_) => 2,
        DataType::Utf8View | DataType::BinaryView => {
            let variadic = parts.variadic.pop_front().ok_or_else(|| {
                format!("field '{}': missing variadic buffer count", field.name())
            })?;
            if variadic < 0 {
                return Err(format!(
                    "field '{}': negative variadic buffer count",
                    field.name()
                ));
            }
            1 + variadic as usize
        }
        _ => 1,
    };
    (0..count).map(|_| parts.buffer(field)).collect()
}

fn read_array(field: &Field, parts: &mut IpcParts) -> Result<ArrayData, String> {
    let dt = field.data_type();
    let (len, nulls) = parts.node(field)?;
    let fail = |e: arrow_schema::ArrowError| format!("field '{}': {e}", field.name());
    let builder = ArrayData::builder(dt.clone()).len(len);
    let data = match dt {
        DataType::Null => builder.build().map_err(fail)?,
        DataType::Union(fields, mode) => {
            let mut buffers = vec![parts.buffer(field)?];
            if *mode == UnionMode::Dense {
                buffers.push(parts.buffer(field)?);
            }
            let children = fields
                .iter()
                .map(|(_, f)| read_array(f, parts))
                .collect::<Result<Vec<_>, _>>()?;
            builder
                .buffers(buffers)
                .child_data(children)
                .build()
                .map_err(fail)?
        }
        DataType::RunEndEncoded(r, v) => {
            let children = vec![read_array(r, parts)?, read_array(v, parts)?];
            builder.child_data(children).build().map_err(fail)?
        }
        DataType::Dictionary(_, value_type) => {
            let validity = parts.buffer(field)?;
            let keys = parts.buffer(field)?;
            let (length, mut values) = parts.dictionaries.pop_front().ok_or_else(|| {
                format!(
                    "field '{}': descriptor has too few dictionaries",
                    field.name()
                )
            })?;
            let value_field = Field::new(field.name(), value_type.as_ref().clone(), true);
            let dictionary = read_array(&value_field, &mut values)?;
            values.finished()?;
            if dictionary.len() as i64 != length {
                return Err(format!(
                    "field '{}': dictionary of {length} values has a node of {}",
                    field.name(),
                    dictionary.len()
                ));
            }
            let builder = builder
                .null_count(nulls)
                .buffers(vec![keys])
                .child_data(vec![dictionary]);
            let builder = if nulls > 0 {
                builder.null_bit_buffer(Some(validity))
            } else {
                builder
            };
            builder.build().map_err(fail)?
        }
        _ => {
            let validity = parts.buffer(field)?;
            let buffers = data_buffers(dt, parts, field)?;
            let children = match dt {
                DataType::List(c)
                | DataType::LargeList(c)
                | DataType::FixedSizeList(c, _)
                | DataType::ListView(c)
                | DataType::LargeListView(c)
                | DataType::Map(c, _) => vec![read_array(c, parts)?],
                DataType::Struct(fs) => fs
                    .iter()
                    .map(|f| read_array(f, parts))
                    .collect::<Result<_, _>>()?,
                _ => Vec::new(),
            };
            let builder = builder
                .null_count(nulls)
                .buffers(buffers)
                .child_data(children);
            let builder = if nulls > 0 {
                builder.null_bit_buffer(Some(validity))
            } else {
                builder
            };
            builder.build().map_err(fail)?
        }
    };
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::flatten;
    use arrow_array::{types::Int32Type, ArrayRef, Int64Array, ListArray, StringArray};

    fn parts(flat: crate::FlatBatch) -> IpcParts {
        let dictionaries = flat
            .dictionaries
            .into_iter()
            .map(|d| (d.length as i64, parts(d)))
            .collect();
        IpcParts::new(flat.nodes, flat.buffers, flat.variadic_buffer_counts)
            .with_dictionaries(dictionaries)
    }

    fn round_trip(batch: &RecordBatch) -> Result<RecordBatch, String> {
        let flat = flatten(batch).unwrap();
        build_batch(batch.schema(), flat.length as i64, parts(flat))
    }

    #[test]
    fn dictionary_columns_travel_as_keys_plus_a_dictionary_batch() {
        use arrow_array::{types::Int8Type, DictionaryArray};
        let words: DictionaryArray<Int8Type> = vec![Some("a"), None, Some("b"), Some("a")]
            .into_iter()
            .collect();
        let words: ArrayRef = Arc::new(words);
        let batch = RecordBatch::try_from_iter(vec![("w", words.slice(1, 3))]).unwrap();
        let flat = flatten(&batch).unwrap();
        assert_eq!(flat.nodes, vec![(3, 1)], "the column is its keys");
        assert_eq!(flat.buffers.len(), 2, "validity and keys");
        assert_eq!(flat.dictionaries.len(), 1);
        assert_eq!(flat.dictionaries[0].nodes, vec![(2, 0)], "values a, b");
        assert_eq!(round_trip(&batch).unwrap(), batch);

        // A key past the dictionary's end is refused by validation.
        let mut flat = flatten(&batch).unwrap();
        flat.buffers[1] = Buffer::from_vec(vec![0i8, 5, 1]);
        let err = build_batch(batch.schema(), 3, parts(flat)).unwrap_err();
        assert!(err.contains("w"), "{err}");
        // So is a missing dictionary.
        let flat = flatten(&batch).unwrap();
        let bare = IpcParts::new(flat.nodes, flat.buffers, flat.variadic_buffer_counts);
        let err = build_batch(batch.schema(), 3, bare).unwrap_err();
        assert!(err.contains("too few dictionaries"), "{err}");
    }

    #[test]
    fn flatten_then_build_is_the_identity() {
        let list: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), None]),
            None,
            Some(vec![]),
        ]));
        let batch = RecordBatch::try_from_iter(vec![
            (
                "i",
                Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])) as ArrayRef,
            ),
            (
                "s",
                Arc::new(StringArray::from(vec![Some("a"), Some("é"), None])) as ArrayRef,
            ),
            ("l", list),
        ])
        .unwrap();
        assert_eq!(round_trip(&batch).unwrap(), batch);
        let sliced = batch.slice(1, 2);
        assert_eq!(round_trip(&sliced).unwrap(), sliced);
    }

    #[test]
    fn corrupt_parts_are_errors() {
        let batch = RecordBatch::try_from_iter(vec![(
            "s",
            Arc::new(StringArray::from(vec!["ab", "c"])) as ArrayRef,
        )])
        .unwrap();
        let flat = flatten(&batch).unwrap();
        // Offsets pointing past the data.
        let bad_offsets = Buffer::from_slice_ref([0i32, 2, 99]);
        let parts = IpcParts::new(
            flat.nodes.clone(),
            vec![
                flat.buffers[0].clone(),
                bad_offsets,
                flat.buffers[2].clone(),
            ],
            vec![],
        );
        assert!(build_batch(batch.schema(), 2, parts).is_err());
        // A missing buffer.
        let parts = IpcParts::new(flat.nodes.clone(), flat.buffers[..2].to_vec(), vec![]);
        assert!(build_batch(batch.schema(), 2, parts)
            .unwrap_err()
            .contains("too few buffers"));
        // Invalid UTF-8.
        let parts = IpcParts::new(
            flat.nodes,
            vec![
                flat.buffers[0].clone(),
                flat.buffers[1].clone(),
                Buffer::from_slice_ref([0xffu8, 0xfe, 0xfd]),
            ],
            vec![],
        );
        assert!(build_batch(batch.schema(), 2, parts).is_err());
    }
}
