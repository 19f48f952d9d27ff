//! String types read as the binary types of the same layout.
//!
//! arrow-rs's string arrays promise valid UTF-8 (their `value` does not check
//! it), so a string column can only be built after a pass over all its bytes.
//! A receiver that hands the data on to another Arrow library without reading
//! it (Python's import: pyarrow checks UTF-8 where it decodes text, as after
//! its own IPC reader) can skip that pass by building the column under the
//! binary type of the same layout, checking offsets and bounds only, and
//! exporting it under the declared string type.

use std::sync::Arc;

use arrow_schema::{DataType, Field, FieldRef, Fields, Schema, UnionFields};

/// `schema` with every string type, at any depth, replaced by the binary type
/// of the same layout (`Utf8` → `Binary`, `LargeUtf8` → `LargeBinary`,
/// `Utf8View` → `BinaryView`); `None` when it has no string type.
pub fn strings_as_binary(schema: &Schema) -> Option<Schema> {
    let fields = fields_as_binary(schema.fields())?;
    Some(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

fn fields_as_binary(fields: &Fields) -> Option<Fields> {
    let changed: Vec<Option<FieldRef>> = fields.iter().map(field_as_binary).collect();
    if changed.iter().all(Option::is_none) {
        return None;
    }
    let fields = changed
        .into_iter()
        .zip(fields.iter())
        .map(|(new, old)| new.unwrap_or_else(|| old.clone()));
    Some(fields.collect())
}

fn field_as_binary(field: &FieldRef) -> Option<FieldRef> {
    let data_type = type_as_binary(field.data_type())?;
    Some(Arc::new(Field::clone(field).with_data_type(data_type)))
}

fn type_as_binary(data_type: &DataType) -> Option<DataType> {
    Some(match data_type {
        DataType::Utf8 => DataType::Binary,
        DataType::LargeUtf8 => DataType::LargeBinary,
        DataType::Utf8View => DataType::BinaryView,
        DataType::List(f) => DataType::List(field_as_binary(f)?),
        DataType::LargeList(f) => DataType::LargeList(field_as_binary(f)?),
        DataType::ListView(f) => DataType::ListView(field_as_binary(f)?),
        DataType::LargeListView(f) => DataType::LargeListView(field_as_binary(f)?),
        DataType::FixedSizeList(f, n) => DataType::FixedSizeList(field_as_binary(f)?, *n),
        DataType::Map(f, sorted) => DataType::Map(field_as_binary(f)?, *sorted),
        DataType::Struct(fs) => DataType::Struct(fields_as_binary(fs)?),
        DataType::Union(fs, mode) => {
            let (ids, fields): (Vec<i8>, Vec<FieldRef>) =
                fs.iter().map(|(id, f)| (id, f.clone())).unzip();
            let fields = fields_as_binary(&fields.into())?;
            // The ids and fields paired validly before and are unchanged, so
            // this cannot fail; if it did, the union would keep its strings
            // (and have them checked).
            let fields = UnionFields::try_new(ids, fields.iter().cloned()).ok()?;
            DataType::Union(fields, *mode)
        }
        DataType::Dictionary(k, v) => DataType::Dictionary(k.clone(), Box::new(type_as_binary(v)?)),
        DataType::RunEndEncoded(r, v) => DataType::RunEndEncoded(r.clone(), field_as_binary(v)?),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::UnionMode;

    fn schema(fields: Vec<Field>) -> Schema {
        Schema::new(fields)
    }

    #[test]
    fn a_schema_without_strings_is_left_alone() {
        let s = schema(vec![
            Field::new("i", DataType::Int64, true),
            Field::new("b", DataType::Binary, true),
        ]);
        assert_eq!(strings_as_binary(&s), None);
    }

    /// Every string type at every depth becomes its binary twin; names,
    /// nullability, metadata and everything else stay.
    #[test]
    fn strings_become_binary_at_any_depth() {
        let meta = [("ARROW:extension:name".to_string(), "x.json".to_string())].into();
        let text = Field::new("t", DataType::Utf8, false).with_metadata(meta);
        let item = |dt| Arc::new(Field::new("item", dt, true));
        let union = UnionFields::try_new(
            vec![3, 7],
            vec![
                Field::new("u", DataType::LargeUtf8, true),
                Field::new("n", DataType::Int32, true),
            ],
        )
        .unwrap();
        let s = schema(vec![
            text,
            Field::new("v", DataType::Utf8View, true),
            Field::new("l", DataType::List(item(DataType::Utf8)), true),
            Field::new(
                "d",
                DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Utf8)),
                true,
            ),
            Field::new(
                "s",
                DataType::Struct(vec![Field::new("x", DataType::Int8, true)].into()),
                true,
            ),
            Field::new("un", DataType::Union(union, UnionMode::Dense), true),
        ]);
        let b = strings_as_binary(&s).expect("has strings");
        assert_eq!(b.field(0).data_type(), &DataType::Binary);
        assert!(!b.field(0).is_nullable());
        assert_eq!(b.field(0).metadata(), s.field(0).metadata());
        assert_eq!(b.field(1).data_type(), &DataType::BinaryView);
        assert_eq!(
            b.field(2).data_type(),
            &DataType::List(item(DataType::Binary))
        );
        assert_eq!(
            b.field(3).data_type(),
            &DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Binary))
        );
        assert_eq!(
            b.field(4),
            s.field(4),
            "a struct without strings is unchanged"
        );
        let DataType::Union(fs, UnionMode::Dense) = b.field(5).data_type() else {
            panic!("union expected");
        };
        let ids: Vec<i8> = fs.iter().map(|(id, _)| id).collect();
        assert_eq!(ids, vec![3, 7]);
        assert_eq!(
            fs.iter().next().unwrap().1.data_type(),
            &DataType::LargeBinary
        );
    }
}
