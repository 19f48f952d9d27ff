//! Python values <-> wire values, without an intermediate Rust model.
//!
//! Common types (None, bool, int, float, str, bytes, list, tuple, dict, Java
//! object proxies) are handled here directly; anything else goes through the
//! Python layer's hooks (`JavaArray` detection, `convert_argument` for
//! pyarrow arrays, datetimes and the like).

use flatbuffers::{Allocator, FlatBufferBuilder, WIPOffset};
use gatun_bridge::protocol::{self as fb, ElementType, ValueKind};
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple,
};

use crate::object_ref::ObjectRef;

/// Deepest nesting of lists and maps accepted, in either direction.
const MAX_DEPTH: usize = 64;

/// Python callables the Python layer registers (see `_native.pyi`).
pub struct Hooks {
    pub make_object: Py<PyAny>,
    pub make_list: Py<PyAny>,
    pub make_array: Py<PyAny>,
    pub convert_argument: Py<PyAny>,
    pub is_java_array: Py<PyAny>,
    /// `(java_reader, pyarrow_schema) -> RecordBatchReader` for a Java
    /// `ArrowReader` result; without it the reader stays a plain reference.
    pub make_reader: Option<Py<PyAny>>,
    /// The session, for Arrow values (their buffers live in its segments).
    pub client: gatun_bridge::Client,
}

/// Element-type names as the Python API spells them, with wire numbers.
pub const ELEMENT_TYPES: [(&str, ElementType); 11] = [
    ("Object", ElementType::Object),
    ("Bool", ElementType::Boolean),
    ("Boolean", ElementType::Boolean),
    ("Byte", ElementType::Byte),
    ("Char", ElementType::Char),
    ("Short", ElementType::Short),
    ("Int", ElementType::Int),
    ("Long", ElementType::Long),
    ("Float", ElementType::Float),
    ("Double", ElementType::Double),
    ("String", ElementType::String),
];

fn element_type_named(name: &str) -> PyResult<ElementType> {
    ELEMENT_TYPES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "unknown JavaArray element_type {name:?}; expected one of Int, Long, Double, Float, Bool, Byte, Short, Char, String, Object"
            ))
        })
}

fn element_type_name(t: ElementType) -> &'static str {
    match t {
        ElementType::Boolean => "Bool",
        ElementType::Byte => "Byte",
        ElementType::Char => "Char",
        ElementType::Short => "Short",
        ElementType::Int => "Int",
        ElementType::Long => "Long",
        ElementType::Float => "Float",
        ElementType::Double => "Double",
        ElementType::String => "String",
        _ => "Object",
    }
}

/// Python objects whose Java ids a request carries: object proxies among the
/// arguments and objects made while converting them (e.g. the Java root a
/// pyarrow table became). They must outlive the request: dropping one queues
/// its release, which would otherwise ride this very request (or an earlier
/// part of a batch) and free the object before the call runs.
pub type KeepAlive<'py> = Vec<Bound<'py, PyAny>>;

/// Encodes one argument.
pub fn encode<'b, 'py, A: Allocator + 'b>(
    fbb: &mut FlatBufferBuilder<'b, A>,
    obj: &Bound<'py, PyAny>,
    hooks: &Hooks,
    depth: usize,
    keep: &mut KeepAlive<'py>,
) -> PyResult<WIPOffset<fb::Value<'b>>> {
    encode_hinted(fbb, obj, hooks, depth, None, keep)
}

fn encode_hinted<'b, 'py, A: Allocator + 'b>(
    fbb: &mut FlatBufferBuilder<'b, A>,
    obj: &Bound<'py, PyAny>,
    hooks: &Hooks,
    depth: usize,
    hint: Option<&str>,
    keep: &mut KeepAlive<'py>,
) -> PyResult<WIPOffset<fb::Value<'b>>> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "argument nests deeper than {MAX_DEPTH} levels (a self-referencing list?)"
        )));
    }
    let py = obj.py();
    let mut args = fb::ValueArgs::default();
    if obj.is_none() {
        args.kind = ValueKind::Null;
    } else if let Ok(b) = obj.cast::<PyBool>() {
        args.kind = ValueKind::Bool;
        args.b = b.is_true();
    } else if obj.is_exact_instance_of::<PyInt>() || obj.is_instance_of::<PyInt>() {
        args.kind = ValueKind::Int;
        args.i = obj.extract::<i64>().map_err(|_| {
            PyOverflowError::new_err(format!(
                "int {obj} does not fit in a Java long (64-bit signed)"
            ))
        })?;
    } else if let Ok(f) = obj.cast::<PyFloat>() {
        args.kind = ValueKind::Double;
        args.d = f.value();
    } else if let Ok(s) = obj.cast::<PyString>() {
        args.kind = ValueKind::String;
        args.s = Some(fbb.create_string(&s.to_cow()?));
    } else if let Ok(r) = obj.cast::<ObjectRef>() {
        let r = r.get();
        if !r.belongs_to(&hooks.client) {
            return Err(PyValueError::new_err(format!(
                "a Java object of another gatun client was passed to this one (object #{} of that \
                 client's session): objects live in the session that made them; pass a value, \
                 or make the object with this client",
                r.object_id()
            )));
        }
        args.kind = ValueKind::Object;
        args.object_id = r.object_id();
        keep.push(obj.clone());
    } else if let Ok(b) = obj.cast::<PyBytes>() {
        args.kind = ValueKind::Bytes;
        args.data = Some(fbb.create_vector(b.as_bytes()));
    } else if let Ok(b) = obj.cast::<PyByteArray>() {
        args.kind = ValueKind::Bytes;
        args.data = Some(fbb.create_vector(&b.to_vec()));
    } else if obj.is_exact_instance_of::<PyList>() || obj.is_exact_instance_of::<PyTuple>() {
        args.kind = ValueKind::List;
        args.items = Some(encode_items(fbb, obj, hooks, depth, keep)?);
    } else if let Ok(d) = obj.cast::<PyDict>() {
        args.kind = ValueKind::Map;
        let mut keys = Vec::with_capacity(d.len());
        let mut vals = Vec::with_capacity(d.len());
        for (k, v) in d.iter() {
            keys.push(encode(fbb, &k, hooks, depth + 1, keep)?);
            vals.push(encode(fbb, &v, hooks, depth + 1, keep)?);
        }
        args.keys = Some(fbb.create_vector(&keys));
        args.items = Some(fbb.create_vector(&vals));
    } else if let Some((java_type, value)) = type_hint(obj)? {
        return encode_hinted(fbb, &value, hooks, depth + 1, Some(&java_type), keep);
    } else if let Some((element_type, buffer)) = numpy_array(obj)? {
        args.kind = ValueKind::Array;
        args.element_type = element_type;
        // SAFETY: the buffer is held (and C-contiguous) until it drops below;
        // [buf_ptr, +len_bytes) is its memory. The GIL is held, so Python
        // code cannot resize the array meanwhile.
        let bytes = unsafe {
            std::slice::from_raw_parts(buffer.buf_ptr() as *const u8, buffer.len_bytes())
        };
        // One copy, in the wire's little-endian layout (the host's).
        args.data = Some(fbb.create_vector(bytes));
        drop(buffer);
    } else {
        let array = hooks.is_java_array.bind(py).call1((obj,))?;
        if !array.is_none() {
            let (element_type, items): (String, Bound<'_, PyAny>) = array.extract()?;
            encode_array(
                fbb,
                &mut args,
                element_type_named(&element_type)?,
                &items,
                hooks,
                depth,
                keep,
            )?;
        } else if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() || is_range(obj)
        {
            args.kind = ValueKind::List;
            args.items = Some(encode_items(fbb, obj, hooks, depth, keep)?);
        } else {
            let converted = hooks.convert_argument.bind(py).call1((obj,))?;
            if converted.is(obj) {
                return Err(PyTypeError::new_err(format!(
                    "cannot pass a {} to Java",
                    obj.get_type().name()?
                )));
            }
            let offset = encode_hinted(fbb, &converted, hooks, depth + 1, hint, keep)?;
            keep.push(converted);
            return Ok(offset);
        }
    }
    if let Some(hint) = hint {
        args.type_hint = Some(fbb.create_string(hint));
    }
    Ok(fb::create_value(fbb, &args))
}

/// A one-dimensional C-contiguous numpy array of a type Java has an array
/// of (the element type `_from_numpy` in `gatun/_convert.py` picks), and its buffer:
/// its memory crosses in one copy instead of element by element. Other
/// arrays (unsigned wider than a byte, big-endian, strided) are `None` and
/// take the generic path.
fn numpy_array(
    obj: &Bound<'_, PyAny>,
) -> PyResult<Option<(ElementType, pyo3::buffer::PyUntypedBuffer)>> {
    let ty = obj.get_type();
    if ty.name()? != "ndarray" || ty.module()? != "numpy" {
        return Ok(None);
    }
    let Ok(buffer) = pyo3::buffer::PyUntypedBuffer::get(obj) else {
        return Ok(None);
    };
    if buffer.dimensions() != 1 || !buffer.is_c_contiguous() {
        return Ok(None);
    }
    let format = buffer.format().to_bytes();
    // Native or little-endian byte order only (this host is little-endian).
    let code = match format {
        [c] | [b'@' | b'=' | b'<', c] => *c,
        _ => return Ok(None),
    };
    let element_type = match (code, buffer.item_size()) {
        (b'?', 1) => ElementType::Boolean,
        (b'b' | b'B', 1) => ElementType::Byte, // unsigned bytes wrap, as in Java's byte[]
        (b'h', 2) => ElementType::Short,
        (b'i' | b'l' | b'q', 4) => ElementType::Int,
        (b'i' | b'l' | b'q', 8) => ElementType::Long,
        (b'f', 4) => ElementType::Float,
        (b'd', 8) => ElementType::Double,
        _ => return Ok(None),
    };
    Ok(Some((element_type, buffer)))
}

fn is_range(obj: &Bound<'_, PyAny>) -> bool {
    obj.get_type().name().map(|n| n == "range").unwrap_or(false)
}

/// `(java_type, value)` when `obj` is a `gatun.TypeHint`.
fn type_hint<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Option<(String, Bound<'py, PyAny>)>> {
    if obj.get_type().name()? != "TypeHint" {
        return Ok(None);
    }
    Ok(Some((
        obj.getattr("java_type")?.extract()?,
        obj.getattr("value")?,
    )))
}

fn encode_items<'b, 'py, A: Allocator + 'b>(
    fbb: &mut FlatBufferBuilder<'b, A>,
    seq: &Bound<'py, PyAny>,
    hooks: &Hooks,
    depth: usize,
    keep: &mut KeepAlive<'py>,
) -> PyResult<WIPOffset<flatbuffers::Vector<'b, flatbuffers::ForwardsUOffset<fb::Value<'b>>>>> {
    let mut items = Vec::new();
    for item in seq.try_iter()? {
        items.push(encode(fbb, &item?, hooks, depth + 1, keep)?);
    }
    Ok(fbb.create_vector(&items))
}

fn pack<T, const N: usize>(
    items: &Bound<'_, PyAny>,
    what: &str,
    convert: impl Fn(&Bound<'_, PyAny>) -> PyResult<T>,
    to_le: impl Fn(T) -> [u8; N],
) -> PyResult<Vec<u8>> {
    let mut out = Vec::new();
    for (index, item) in items.try_iter()?.enumerate() {
        let item = item?;
        let v = convert(&item).map_err(|_| {
            PyTypeError::new_err(format!(
                "JavaArray element {index} ({item}) is not a valid Java {what}"
            ))
        })?;
        out.extend_from_slice(&to_le(v));
    }
    Ok(out)
}

fn encode_array<'b, 'py, A: Allocator + 'b>(
    fbb: &mut FlatBufferBuilder<'b, A>,
    args: &mut fb::ValueArgs<'b>,
    element_type: ElementType,
    items: &Bound<'py, PyAny>,
    hooks: &Hooks,
    depth: usize,
    keep: &mut KeepAlive<'py>,
) -> PyResult<()> {
    args.kind = ValueKind::Array;
    args.element_type = element_type;
    let data = match element_type {
        ElementType::Boolean => pack(items, "boolean", |v| v.is_truthy().map(u8::from), |b| [b])?,
        ElementType::Byte => pack(
            items,
            "byte",
            |v| {
                let i: i64 = v.extract()?;
                match i {
                    -128..=127 => Ok(i as i8 as u8),
                    128..=255 => Ok(i as u8),
                    _ => Err(PyValueError::new_err("out of range")),
                }
            },
            |b| [b],
        )?,
        ElementType::Char => pack(
            items,
            "char",
            |v| {
                if let Ok(s) = v.extract::<String>() {
                    let mut units = s.encode_utf16();
                    match (units.next(), units.next()) {
                        (Some(u), None) => Ok(u),
                        _ => Err(PyValueError::new_err("not one UTF-16 unit")),
                    }
                } else {
                    v.extract::<u16>()
                }
            },
            u16::to_le_bytes,
        )?,
        ElementType::Short => pack(items, "short", |v| v.extract::<i16>(), i16::to_le_bytes)?,
        ElementType::Int => pack(items, "int", |v| v.extract::<i32>(), i32::to_le_bytes)?,
        ElementType::Long => pack(items, "long", |v| v.extract::<i64>(), i64::to_le_bytes)?,
        ElementType::Float => pack(
            items,
            "float",
            |v| v.extract::<f64>().map(|d| d as f32),
            f32::to_le_bytes,
        )?,
        ElementType::Double => pack(items, "double", |v| v.extract::<f64>(), f64::to_le_bytes)?,
        _ => {
            args.items = Some(encode_items(fbb, items, hooks, depth, keep)?);
            return Ok(());
        }
    };
    args.data = Some(fbb.create_vector(&data));
    Ok(())
}

fn unpack<T, const N: usize>(data: &[u8], from: impl Fn([u8; N]) -> T) -> PyResult<Vec<T>> {
    if data.len() % N != 0 {
        return Err(PyValueError::new_err(format!(
            "malformed array from the JVM: {} bytes is not a multiple of {N}",
            data.len()
        )));
    }
    Ok(data
        .chunks_exact(N)
        .map(|c| from(c.try_into().expect("N bytes")))
        .collect())
}

/// Decodes a wire value into a Python object.
pub fn decode<'py>(
    py: Python<'py>,
    v: fb::Value<'_>,
    hooks: &Hooks,
    depth: usize,
) -> PyResult<Bound<'py, PyAny>> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "value from the JVM nests deeper than {MAX_DEPTH} levels"
        )));
    }
    Ok(match v.kind() {
        ValueKind::Null => py.None().into_bound(py),
        ValueKind::Bool => PyBool::new(py, v.b()).to_owned().into_any(),
        ValueKind::Int => v.i().into_pyobject(py)?.into_any(),
        ValueKind::Double => PyFloat::new(py, v.d()).into_any(),
        ValueKind::Char => {
            let unit =
                u16::try_from(v.i()).map_err(|_| PyValueError::new_err("char out of range"))?;
            PyString::new(py, &String::from_utf16_lossy(&[unit])).into_any()
        }
        ValueKind::String => PyString::new(py, v.s().unwrap_or_default()).into_any(),
        ValueKind::Bytes => {
            PyBytes::new(py, v.data().map(|d| d.bytes()).unwrap_or_default()).into_any()
        }
        ValueKind::Object => hooks
            .make_object
            .bind(py)
            .call1((v.object_id(), v.class_name().unwrap_or("java.lang.Object")))?,
        ValueKind::List => {
            let list = decode_items(py, &v, hooks, depth)?;
            hooks.make_list.bind(py).call1((list,))?
        }
        ValueKind::Map => {
            let dict = PyDict::new(py);
            let keys = v.keys().map(|k| k.len()).unwrap_or(0);
            let vals = v.items().map(|k| k.len()).unwrap_or(0);
            if keys != vals {
                return Err(PyValueError::new_err(format!(
                    "malformed map from the JVM: {keys} keys, {vals} values"
                )));
            }
            if let (Some(ks), Some(vs)) = (v.keys(), v.items()) {
                for (k, val) in ks.iter().zip(vs.iter()) {
                    dict.set_item(
                        decode(py, k, hooks, depth + 1)?,
                        decode(py, val, hooks, depth + 1)?,
                    )?;
                }
            }
            dict.into_any()
        }
        ValueKind::Array => {
            let data = v.data().map(|d| d.bytes()).unwrap_or_default();
            let t = v.element_type();
            let list = match t {
                ElementType::Boolean => PyList::new(py, data.iter().map(|&b| b != 0))?,
                ElementType::Byte => PyList::new(py, data.iter().map(|&b| b as i8))?,
                ElementType::Char => {
                    let units = unpack(data, u16::from_le_bytes)?;
                    PyList::new(py, units.iter().map(|u| String::from_utf16_lossy(&[*u])))?
                }
                ElementType::Short => PyList::new(py, unpack(data, i16::from_le_bytes)?)?,
                ElementType::Int => PyList::new(py, unpack(data, i32::from_le_bytes)?)?,
                ElementType::Long => PyList::new(py, unpack(data, i64::from_le_bytes)?)?,
                ElementType::Float => PyList::new(py, unpack(data, f32::from_le_bytes)?)?,
                ElementType::Double => PyList::new(py, unpack(data, f64::from_le_bytes)?)?,
                _ => decode_items(py, &v, hooks, depth)?,
            };
            hooks
                .make_array
                .bind(py)
                .call1((list, element_type_name(t)))?
        }
        ValueKind::Arrow => decode_arrow(py, &v, hooks)?,
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown value kind {} from the JVM",
                other.0
            )));
        }
    })
}

/// A `VectorSchemaRoot` (a pyarrow `Table`) or a `FieldVector` (a pyarrow
/// `Array`) from the JVM: zero copy, its buffers point into JVM-owned segments.
fn decode_arrow<'py>(
    py: Python<'py>,
    v: &fb::Value<'_>,
    hooks: &Hooks,
) -> PyResult<Bound<'py, PyAny>> {
    let desc = v.arrow().ok_or_else(|| {
        PyValueError::new_err("malformed Arrow value from the JVM: no descriptor")
    })?;
    if v.arrow_shape() == Some("reader") {
        let reader = hooks.make_object.bind(py).call1((
            v.object_id(),
            v.class_name()
                .unwrap_or("org.apache.arrow.vector.ipc.ArrowReader"),
        ))?;
        let Some(make_reader) = &hooks.make_reader else {
            return Ok(reader);
        };
        let schema = hooks
            .client
            .arrow()
            .peer_schema(desc.schema_id(), v.schema())
            .map_err(|e| crate::errors::to_py(py, e))?;
        let schema = pyo3_arrow::PySchema::new(schema).into_pyarrow(py)?;
        return make_reader.bind(py).call1((reader, schema));
    }
    let imported = hooks
        .client
        .arrow()
        .import(desc, v.schema())
        .map_err(|e| crate::errors::to_py(py, e))?;
    let vector = v.arrow_shape() == Some("vector") && imported.batch.num_columns() == 1;
    export_declared(py, imported, vector)
}

/// Hands a received batch to pyarrow under the schema the JVM declared: its
/// string columns may have been built as binary ones (`Imported`), which
/// pyarrow takes as they are, since both have the same layout. A `vector` is
/// the batch's one column, as a pyarrow `Array`.
fn export_declared<'py>(
    py: Python<'py>,
    imported: gatun_bridge::arrow_plane::Imported,
    vector: bool,
) -> PyResult<Bound<'py, PyAny>> {
    use pyo3_arrow::ffi::ArrayIterator;
    use std::sync::Arc;
    let gatun_bridge::arrow_plane::Imported { batch, schema } = imported;
    let pyarrow = py.import(pyo3::intern!(py, "pyarrow"))?;
    let (array, field): (arrow_array::ArrayRef, _) = if vector {
        (batch.column(0).clone(), schema.fields()[0].clone())
    } else {
        let columns = arrow_array::StructArray::from(batch);
        let field = arrow_schema::Field::new_struct("", schema.fields().clone(), false)
            .with_metadata(schema.metadata().clone());
        (Arc::new(columns), Arc::new(field))
    };
    // One chunk under the declared field; the stream exports it unchanged.
    let stream = ArrayIterator::new(std::iter::once(Ok(array)), field);
    let reader = pyo3_arrow::PyArrayReader::new(Box::new(stream)).into_pyobject(py)?;
    if vector {
        let chunked = pyarrow
            .getattr(pyo3::intern!(py, "chunked_array"))?
            .call1((reader,))?;
        return chunked.call_method1(pyo3::intern!(py, "chunk"), (0,));
    }
    pyarrow
        .getattr(pyo3::intern!(py, "table"))?
        .call1((reader,))
}

fn decode_items<'py>(
    py: Python<'py>,
    v: &fb::Value<'_>,
    hooks: &Hooks,
    depth: usize,
) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    if let Some(items) = v.items() {
        for item in items.iter() {
            list.append(decode(py, item, hooks, depth + 1)?)?;
        }
    }
    Ok(list)
}
