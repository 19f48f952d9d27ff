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
            // Strings, binaries and lists: arrow-rs's full validation walks
            // the offsets one by one through an iterator (and then UTF-8),
            // ~90% of receiving a 1M-row utf8 column; the same checks are
            // done below in two tight passes.
            let offset_width = match dt {
                DataType::Utf8 | DataType::Binary | DataType::List(_) | DataType::Map(_, _) => {
                    Some(4)
                }
                DataType::LargeUtf8 | DataType::LargeBinary | DataType::LargeList(_) => Some(8),
                _ => None,
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
            match offset_width {
                None => builder.build().map_err(fail)?,
                Some(width) => {
                    // SAFETY: nothing reads the array before the checks below,
                    // which together are arrow-rs's full validation of these
                    // types: buffer sizes, the end offsets and the null count
                    // (`validate`, `validate_nulls`), then every offset in
                    // order and, for strings, UTF-8 on character boundaries.
                    // A list's child was fully validated when it was read.
                    let data = unsafe { builder.build_unchecked() };
                    data.validate().map_err(fail)?;
                    data.validate_nulls().map_err(fail)?;
                    let utf8 = matches!(dt, DataType::Utf8 | DataType::LargeUtf8);
                    let checked = if width == 4 {
                        check_offsets::<i32>(&data, utf8)
                    } else {
                        check_offsets::<i64>(&data, utf8)
                    };
                    checked.map_err(|e| format!("field '{}': {e}", field.name()))?;
                    data
                }
            }
        }
    };
    Ok(data)
}

/// The checks `validate` leaves to full validation for a string, binary or
/// list array: offsets never decrease and, for strings (`utf8`), the values
/// are UTF-8 with every offset on a character boundary. `validate` has checked
/// the buffer sizes and that the first and last offsets lie in the values (or
/// the child).
fn check_offsets<O: arrow_buffer::ArrowNativeType + Into<i64> + PartialOrd>(
    data: &ArrayData,
    utf8: bool,
) -> Result<(), String> {
    if data.is_empty() {
        return Ok(()); // its offsets buffer may be empty
    }
    // `buffer` starts at the array's offset.
    let offsets = &data.buffer::<O>(0)[..data.len() + 1];
    let (first, last): (i64, i64) = (offsets[0].into(), offsets[data.len()].into());
    // Strings only: `validate` has checked that [first, last) is inside.
    let values = || &data.buffers()[1].as_slice()[first as usize..last as usize];
    let (ordered, ascii) = if utf8 {
        ordered_and_ascii(offsets, values())
    } else {
        (ordered(offsets), false)
    };
    if !ordered {
        let at = offsets
            .windows(2)
            .position(|w| w[0].into() > w[1].into())
            .unwrap_or(0);
        return Err(format!(
            "offsets decrease at index {at} ({} then {})",
            offsets[at].into(),
            offsets[at + 1].into()
        ));
    }
    if !utf8 || ascii {
        return Ok(()); // ASCII: every byte starts a character
    }
    let values = values();
    std::str::from_utf8(values).map_err(|e| format!("invalid UTF-8: {e}"))?;
    for &o in offsets {
        let o: i64 = o.into();
        let at = (o - first) as usize;
        // A UTF-8 continuation byte is 0b10xx_xxxx, i.e. below -64 as an i8.
        if at < values.len() && (values[at] as i8) < -64 {
            return Err(format!("offset {o} splits a UTF-8 character"));
        }
    }
    Ok(())
}

/// Whether `offsets` never decrease: one branch-free pass over the offsets
/// and the offsets shifted by one, compared in their own width. Blocks of a
/// fixed size let the compiler vectorise the comparisons (a plain fold over
/// the pairs ran at about one offset per nanosecond).
fn ordered<O: PartialOrd>(offsets: &[O]) -> bool {
    const BLOCK: usize = 16;
    let (next, this) = (&offsets[1..], &offsets[..offsets.len() - 1]);
    let mut ok = true;
    for (n, o) in next.chunks_exact(BLOCK).zip(this.chunks_exact(BLOCK)) {
        let mut block_ok = true;
        for i in 0..BLOCK {
            block_ok &= o[i] <= n[i];
        }
        ok &= block_ok;
    }
    let rest = next.len() % BLOCK;
    let tail = next.len() - rest;
    ok & next[tail..].iter().zip(&this[tail..]).all(|(n, o)| o <= n)
}

/// Below this many bytes of offsets and values one thread checks both: a
/// second thread costs tens of microseconds to start.
const PARALLEL_CHECK_MIN: usize = 2 << 20;

/// `(ordered(offsets), values.is_ascii())`. Both passes are bound by memory
/// bandwidth, which one core does not saturate, so large inputs are split
/// into two halves of about equal bytes on two threads (the JVM is idle
/// while Python imports its answer).
fn ordered_and_ascii<O: PartialOrd + Sync>(offsets: &[O], values: &[u8]) -> (bool, bool) {
    let offset_bytes = std::mem::size_of_val(offsets);
    let total = offset_bytes + values.len();
    if total < PARALLEL_CHECK_MIN || !two_cores() {
        return (ordered(offsets), values.is_ascii());
    }
    // The other thread scans the values' tail; this one the offsets and the rest.
    let split = values.len().saturating_sub(total / 2);
    let (head, tail) = values.split_at(split);
    std::thread::scope(|scope| {
        let tail_ascii = scope.spawn(|| tail.is_ascii());
        let here = (ordered(offsets), head.is_ascii());
        // A panic in `is_ascii` cannot happen; treat one as "not ASCII".
        (here.0, here.1 && tail_ascii.join().unwrap_or(false))
    })
}

/// Whether this process may run on at least two cores (asked once: on Linux
/// the answer reads cgroup files).
fn two_cores() -> bool {
    static TWO: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TWO.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2))
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

    /// Strings: valid UTF-8 arrives whole (ASCII, multi-byte, large offsets,
    /// sliced, empty); values that are not UTF-8, or offsets that cut a
    /// character in two, are refused naming the column.
    #[test]
    fn strings_are_checked_for_utf8_and_character_boundaries() {
        use arrow_array::LargeStringArray;
        let text: ArrayRef = Arc::new(StringArray::from(vec![
            Some("plain"),
            Some("é☃𝄞"),
            None,
            Some(""),
        ]));
        let large: ArrayRef = Arc::new(LargeStringArray::from(vec!["ü", "x", "", "ß"]));
        let batch = RecordBatch::try_from_iter(vec![("t", text), ("l", large)]).unwrap();
        assert_eq!(round_trip(&batch).unwrap(), batch);
        for (offset, len) in [(1, 2), (0, 0), (3, 1)] {
            let sliced = batch.slice(offset, len);
            assert_eq!(round_trip(&sliced).unwrap(), sliced);
        }

        // "é" is two bytes: an offset of 1 splits it.
        let one: ArrayRef = Arc::new(StringArray::from(vec!["é", "a"]));
        let batch = RecordBatch::try_from_iter(vec![("t", one)]).unwrap();
        let flat = flatten(&batch).unwrap();
        let split = IpcParts::new(
            flat.nodes.clone(),
            vec![
                flat.buffers[0].clone(),
                Buffer::from_slice_ref([0i32, 1, 3]),
                flat.buffers[2].clone(),
            ],
            vec![],
        );
        let err = build_batch(batch.schema(), 2, split).unwrap_err();
        assert!(err.contains("'t'") && err.contains("splits"), "{err}");

        // A lone continuation byte is not UTF-8 (and not ASCII).
        let bad = IpcParts::new(
            flat.nodes,
            vec![
                flat.buffers[0].clone(),
                flat.buffers[1].clone(),
                Buffer::from_slice_ref([0x80u8, 0x61, 0x62]),
            ],
            vec![],
        );
        let err = build_batch(batch.schema(), 2, bad).unwrap_err();
        assert!(err.contains("'t'") && err.contains("UTF-8"), "{err}");
    }

    /// `ordered` finds a decrease anywhere: in a full block, across two
    /// blocks and in the tail, for every length around the block size.
    #[test]
    fn ordered_finds_a_decrease_anywhere() {
        for len in 2..50usize {
            let offsets: Vec<i64> = (0..len as i64).map(|i| i * 3).collect();
            assert!(ordered(&offsets), "len {len}");
            assert!(ordered(&vec![5i64; len]), "equal offsets, len {len}");
            for at in 0..len - 1 {
                let mut bad = offsets.clone();
                bad[at] = bad[at + 1] + 1;
                assert!(!ordered(&bad), "len {len}, decrease after {at}");
            }
        }
    }

    /// Built under the binary twin of its schema (`strings_as_binary`), a
    /// string column is checked for offsets and bounds but not UTF-8: text
    /// that is not UTF-8 arrives as binary, offsets out of order do not.
    #[test]
    fn strings_read_as_binary_skip_only_the_utf8_check() {
        use crate::strings_as_binary;
        let text: ArrayRef = Arc::new(StringArray::from(vec!["ab", "c"]));
        let batch = RecordBatch::try_from_iter(vec![("t", text)]).unwrap();
        let binary = Arc::new(strings_as_binary(&batch.schema()).unwrap());
        let flat = flatten(&batch).unwrap();
        let with = |offsets: &[i32], values: &[u8]| {
            IpcParts::new(
                flat.nodes.clone(),
                vec![
                    flat.buffers[0].clone(),
                    Buffer::from_slice_ref(offsets),
                    Buffer::from_slice_ref(values),
                ],
                vec![],
            )
        };
        let not_utf8 = [0xffu8, 0xfe, 0x61];
        let got = build_batch(binary.clone(), 2, with(&[0, 2, 3], &not_utf8)).unwrap();
        assert_eq!(got.schema(), binary);
        assert_eq!(got.column(0).to_data().buffers()[1].as_slice(), &not_utf8);
        let err = build_batch(batch.schema(), 2, with(&[0, 2, 3], &not_utf8)).unwrap_err();
        assert!(err.contains("UTF-8"), "{err}");
        let err = build_batch(binary, 2, with(&[0, 3, 2], b"abc")).unwrap_err();
        assert!(err.contains("offsets decrease"), "{err}");
    }

    /// Large string columns are checked on two threads (offsets and the
    /// values' head here, the values' tail on the other): a fault in either
    /// part is found, and multi-byte text in either part is accepted.
    #[test]
    fn large_strings_are_checked_in_both_halves() {
        let rows = 400_000; // 1.6 MB of offsets + 3.2 MB of values: two threads
        let words = |odd: &str| -> ArrayRef {
            Arc::new(StringArray::from_iter_values((0..rows).map(|i| {
                if i == 7 || i == rows - 7 {
                    odd
                } else {
                    "abcdefgh"
                }
            })))
        };
        for odd in ["aé☃xyz", "ABCDEFGH"] {
            let batch = RecordBatch::try_from_iter(vec![("t", words(odd))]).unwrap();
            assert_eq!(round_trip(&batch).unwrap(), batch);
        }
        let batch = RecordBatch::try_from_iter(vec![("t", words("aé☃xyz"))]).unwrap();
        let flat = flatten(&batch).unwrap();
        let values = flat.buffers[2].as_slice();
        let offsets = flat.buffers[1].typed_data::<i32>();
        // A lone continuation byte at the start (this thread's part) or near
        // the end (the other thread's part); a decreasing offset at the end.
        for (at, what) in [(3usize, "UTF-8"), (values.len() - 20, "UTF-8")] {
            let mut bytes = values.to_vec();
            bytes[at] = 0x80;
            let mut bad = flat.clone();
            bad.buffers[2] = Buffer::from_vec(bytes);
            let err = build_batch(batch.schema(), rows as i64, parts(bad)).unwrap_err();
            assert!(err.contains(what), "byte {at}: {err}");
        }
        let mut shuffled = offsets.to_vec();
        shuffled.swap(rows - 3, rows - 2);
        let mut bad = flat.clone();
        bad.buffers[1] = Buffer::from_vec(shuffled);
        let err = build_batch(batch.schema(), rows as i64, parts(bad)).unwrap_err();
        assert!(err.contains("decrease"), "{err}");
    }

    /// Offsets of strings and binaries: each must be at least the one before,
    /// and the ends must lie in the values, for every offset width.
    #[test]
    fn offsets_that_decrease_or_leave_the_values_are_refused() {
        use arrow_array::{BinaryArray, LargeBinaryArray};
        let columns: [(&str, ArrayRef); 3] = [
            ("s", Arc::new(StringArray::from(vec!["ab", "c", "de"]))),
            (
                "b",
                Arc::new(BinaryArray::from(vec![&b"ab"[..], b"c", b"de"])),
            ),
            (
                "lb",
                Arc::new(LargeBinaryArray::from(vec![&b"ab"[..], b"c", b"de"])),
            ),
        ];
        for (name, column) in columns {
            let batch = RecordBatch::try_from_iter(vec![(name, column)]).unwrap();
            assert_eq!(round_trip(&batch).unwrap(), batch);
            let large = name == "lb";
            let offsets = |o: [i64; 4]| {
                if large {
                    Buffer::from_slice_ref(o)
                } else {
                    Buffer::from_slice_ref(o.map(|x| x as i32))
                }
            };
            for (bad, what) in [
                ([0, 3, 1, 5], "decrease"),
                ([-1, 2, 3, 5], "negative"),
                ([0, 2, 3, 9], "past the end"),
            ] {
                let flat = flatten(&batch).unwrap();
                let parts = IpcParts::new(
                    flat.nodes,
                    vec![
                        flat.buffers[0].clone(),
                        offsets(bad),
                        flat.buffers[2].clone(),
                    ],
                    vec![],
                );
                let err = build_batch(batch.schema(), 3, parts).unwrap_err();
                assert!(err.contains(&format!("'{name}'")), "{what}: {err}");
            }
        }

        // Lists: the same for offsets into the child.
        let list: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), Some(2)]),
            Some(vec![Some(3)]),
            Some(vec![Some(4), None]),
        ]));
        let batch = RecordBatch::try_from_iter(vec![("l", list)]).unwrap();
        assert_eq!(round_trip(&batch).unwrap(), batch);
        for bad in [[0i32, 3, 1, 5], [0, 2, 3, 9]] {
            let mut flat = flatten(&batch).unwrap();
            flat.buffers[1] = Buffer::from_slice_ref(bad);
            let err = build_batch(batch.schema(), 3, parts(flat)).unwrap_err();
            assert!(err.contains("'l'"), "{bad:?}: {err}");
        }
    }
}
