//! The value model of the plain-Rust client, and its wire encoding.
//!
//! The Python binding converts Python objects straight to and from the wire;
//! this module is what a Rust caller uses, and the reference for what each
//! [`ValueKind`](crate::protocol::ValueKind) means.

use flatbuffers::{FlatBufferBuilder, WIPOffset};

use crate::error::{BridgeError, Result};
use crate::protocol as fb;

/// A reference to an object in the JVM session's registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHandle {
    /// Registry id (per session).
    pub id: i64,
    /// Runtime class of the object, e.g. `java.util.ArrayList`.
    pub class_name: String,
}

/// A Java array carried by value.
#[derive(Debug, Clone, PartialEq)]
pub enum ArrayValue {
    /// `boolean[]`
    Boolean(Vec<bool>),
    /// `short[]`
    Short(Vec<i16>),
    /// `char[]` (UTF-16 code units)
    Char(Vec<u16>),
    /// `int[]`
    Int(Vec<i32>),
    /// `long[]`
    Long(Vec<i64>),
    /// `float[]`
    Float(Vec<f32>),
    /// `double[]`
    Double(Vec<f64>),
    /// `String[]` or `Object[]` (element type, elements)
    Objects(fb::ElementType, Vec<Value>),
}

/// A value that crosses the bridge.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`
    Null,
    /// `boolean`
    Bool(bool),
    /// Any Java integer type.
    Int(i64),
    /// `float` or `double`.
    Double(f64),
    /// `char` (a UTF-16 code unit).
    Char(u16),
    /// `String`
    String(String),
    /// `byte[]`
    Bytes(Vec<u8>),
    /// An object kept in the JVM.
    Object(ObjectHandle),
    /// `java.util.List` (sent as `ArrayList`).
    List(Vec<Value>),
    /// `java.util.Map` (sent as `HashMap`), in entry order.
    Map(Vec<(Value, Value)>),
    /// A typed Java array.
    Array(ArrayValue),
}

fn le_bytes<T: Copy, const N: usize>(items: &[T], to: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    items.iter().flat_map(|&v| to(v)).collect()
}

fn from_le<T, const N: usize>(data: &[u8], from: impl Fn([u8; N]) -> T) -> Result<Vec<T>> {
    if data.len() % N != 0 {
        return Err(BridgeError::Protocol(format!(
            "array data of {} bytes is not a multiple of {N}",
            data.len()
        )));
    }
    Ok(data
        .chunks_exact(N)
        .map(|c| from(c.try_into().expect("chunk of N bytes")))
        .collect())
}

impl Value {
    /// Encodes this value into `fbb`.
    pub fn encode<'b>(&self, fbb: &mut FlatBufferBuilder<'b>) -> WIPOffset<fb::Value<'b>> {
        let mut args = fb::ValueArgs::default();
        match self {
            Value::Null => args.kind = fb::ValueKind::Null,
            Value::Bool(b) => {
                args.kind = fb::ValueKind::Bool;
                args.b = *b;
            }
            Value::Int(i) => {
                args.kind = fb::ValueKind::Int;
                args.i = *i;
            }
            Value::Double(d) => {
                args.kind = fb::ValueKind::Double;
                args.d = *d;
            }
            Value::Char(c) => {
                args.kind = fb::ValueKind::Char;
                args.i = i64::from(*c);
            }
            Value::String(s) => {
                args.kind = fb::ValueKind::String;
                args.s = Some(fbb.create_string(s));
            }
            Value::Bytes(b) => {
                args.kind = fb::ValueKind::Bytes;
                args.data = Some(fbb.create_vector(b));
            }
            Value::Object(h) => {
                args.kind = fb::ValueKind::Object;
                args.object_id = h.id;
            }
            Value::List(items) => {
                args.kind = fb::ValueKind::List;
                let offsets: Vec<_> = items.iter().map(|v| v.encode(fbb)).collect();
                args.items = Some(fbb.create_vector(&offsets));
            }
            Value::Map(entries) => {
                args.kind = fb::ValueKind::Map;
                let keys: Vec<_> = entries.iter().map(|(k, _)| k.encode(fbb)).collect();
                let vals: Vec<_> = entries.iter().map(|(_, v)| v.encode(fbb)).collect();
                args.keys = Some(fbb.create_vector(&keys));
                args.items = Some(fbb.create_vector(&vals));
            }
            Value::Array(array) => {
                args.kind = fb::ValueKind::Array;
                let (element_type, data) = match array {
                    ArrayValue::Boolean(v) => (
                        fb::ElementType::Boolean,
                        v.iter().map(|&b| b as u8).collect(),
                    ),
                    ArrayValue::Short(v) => (fb::ElementType::Short, le_bytes(v, i16::to_le_bytes)),
                    ArrayValue::Char(v) => (fb::ElementType::Char, le_bytes(v, u16::to_le_bytes)),
                    ArrayValue::Int(v) => (fb::ElementType::Int, le_bytes(v, i32::to_le_bytes)),
                    ArrayValue::Long(v) => (fb::ElementType::Long, le_bytes(v, i64::to_le_bytes)),
                    ArrayValue::Float(v) => (fb::ElementType::Float, le_bytes(v, f32::to_le_bytes)),
                    ArrayValue::Double(v) => {
                        (fb::ElementType::Double, le_bytes(v, f64::to_le_bytes))
                    }
                    ArrayValue::Objects(t, items) => {
                        let offsets: Vec<_> = items.iter().map(|v| v.encode(fbb)).collect();
                        args.items = Some(fbb.create_vector(&offsets));
                        (*t, Vec::new())
                    }
                };
                args.element_type = element_type;
                if !data.is_empty() || args.items.is_none() {
                    args.data = Some(fbb.create_vector(&data));
                }
            }
        }
        fb::create_value(fbb, &args)
    }

    /// Decodes a (verified) wire value.
    pub fn decode(v: fb::Value<'_>) -> Result<Value> {
        let items = |v: &fb::Value<'_>| -> Result<Vec<Value>> {
            v.items().map_or(Ok(Vec::new()), |items| {
                items.iter().map(Value::decode).collect()
            })
        };
        Ok(match v.kind() {
            fb::ValueKind::Null => Value::Null,
            fb::ValueKind::Bool => Value::Bool(v.b()),
            fb::ValueKind::Int => Value::Int(v.i()),
            fb::ValueKind::Double => Value::Double(v.d()),
            fb::ValueKind::Char => Value::Char(u16::try_from(v.i()).map_err(|_| {
                BridgeError::Protocol(format!("char value {} is not a UTF-16 code unit", v.i()))
            })?),
            fb::ValueKind::String => Value::String(v.s().unwrap_or_default().to_owned()),
            fb::ValueKind::Bytes => {
                Value::Bytes(v.data().map(|d| d.bytes().to_vec()).unwrap_or_default())
            }
            fb::ValueKind::Object => Value::Object(ObjectHandle {
                id: v.object_id(),
                class_name: v.class_name().unwrap_or_default().to_owned(),
            }),
            fb::ValueKind::List => Value::List(items(&v)?),
            fb::ValueKind::Map => {
                let keys = v.keys().map_or(Ok(Vec::new()), |k| {
                    k.iter().map(Value::decode).collect::<Result<Vec<_>>>()
                })?;
                let vals = items(&v)?;
                if keys.len() != vals.len() {
                    return Err(BridgeError::Protocol(format!(
                        "map with {} keys and {} values",
                        keys.len(),
                        vals.len()
                    )));
                }
                Value::Map(keys.into_iter().zip(vals).collect())
            }
            fb::ValueKind::Array => {
                let data = v.data().map(|d| d.bytes()).unwrap_or_default();
                Value::Array(match v.element_type() {
                    fb::ElementType::Boolean => {
                        ArrayValue::Boolean(data.iter().map(|&b| b != 0).collect())
                    }
                    // A byte[] normally travels as Bytes; an Array of Byte is
                    // accepted as the equivalent list of small ints.
                    fb::ElementType::Byte => ArrayValue::Objects(
                        fb::ElementType::Byte,
                        data.iter()
                            .map(|&x| Value::Int(i64::from(x as i8)))
                            .collect(),
                    ),
                    fb::ElementType::Short => ArrayValue::Short(from_le(data, i16::from_le_bytes)?),
                    fb::ElementType::Char => ArrayValue::Char(from_le(data, u16::from_le_bytes)?),
                    fb::ElementType::Int => ArrayValue::Int(from_le(data, i32::from_le_bytes)?),
                    fb::ElementType::Long => ArrayValue::Long(from_le(data, i64::from_le_bytes)?),
                    fb::ElementType::Float => ArrayValue::Float(from_le(data, f32::from_le_bytes)?),
                    fb::ElementType::Double => {
                        ArrayValue::Double(from_le(data, f64::from_le_bytes)?)
                    }
                    t => ArrayValue::Objects(t, items(&v)?),
                })
            }
            other => {
                return Err(BridgeError::Protocol(format!(
                    "unknown value kind {}",
                    other.0
                )))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(v: Value) {
        let mut fbb = FlatBufferBuilder::new();
        let off = v.encode(&mut fbb);
        fbb.finish(off, None);
        let decoded = flatbuffers::root::<fb::Value>(fbb.finished_data()).unwrap();
        assert_eq!(Value::decode(decoded).unwrap(), v);
    }

    /// -0.0 == 0.0, the field's default, which FlatBuffers would leave out.
    #[test]
    fn negative_zero_keeps_its_sign() {
        let mut fbb = FlatBufferBuilder::new();
        let off = Value::Double(-0.0).encode(&mut fbb);
        fbb.finish(off, None);
        let decoded = flatbuffers::root::<fb::Value>(fbb.finished_data()).unwrap();
        match Value::decode(decoded).unwrap() {
            Value::Double(d) => assert!(d == 0.0 && d.is_sign_negative(), "{d}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_kind_round_trips() {
        round_trip(Value::Null);
        round_trip(Value::Bool(true));
        round_trip(Value::Int(i64::MIN));
        round_trip(Value::Double(-0.5));
        round_trip(Value::Char(0x263A));
        round_trip(Value::String("héllo ☺".into()));
        round_trip(Value::Bytes(vec![0, 255, 7]));
        round_trip(Value::Object(ObjectHandle {
            id: 9,
            class_name: String::new(),
        }));
        round_trip(Value::List(vec![Value::Int(1), Value::String("x".into())]));
        round_trip(Value::Map(vec![(
            Value::String("k".into()),
            Value::List(vec![]),
        )]));
        round_trip(Value::Array(ArrayValue::Int(vec![1, -2, i32::MAX])));
        round_trip(Value::Array(ArrayValue::Double(vec![1.5, f64::MAX])));
        round_trip(Value::Array(ArrayValue::Boolean(vec![true, false])));
        round_trip(Value::Array(ArrayValue::Objects(
            fb::ElementType::String,
            vec![Value::String("a".into())],
        )));
    }

    proptest::proptest! {
        #[test]
        fn ints_and_strings_round_trip(i in proptest::num::i64::ANY, s in ".*") {
            round_trip(Value::List(vec![Value::Int(i), Value::String(s)]));
        }
    }
}
