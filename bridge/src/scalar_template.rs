//! Commands of scalars, encoded once per shape and then copied.
//!
//! A call whose arguments are all `None`, `bool`, `int` or `float` is usually
//! shaped like one made shortly before: the same method called in a loop.
//! Such a command is the earlier one's bytes with the object id and the values
//! written in, no FlatBuffers work at all (building one was a fifth of the
//! Python side's instructions for a pre-bound call). The fields written in
//! are always present in these commands, even when they hold the default
//! FlatBuffers would leave out. Batches splice the commands into a `Batch`
//! request ([`crate::BatchEncoder::push_scalars`]); single calls make a whole
//! request of one ([`crate::client::Scratch::scalar_request`]).

use flatbuffers::{FlatBufferBuilder, WIPOffset};

use crate::protocol::RequestHead;
use crate::protocol::{self as fb, Action, ValueKind};

/// Alignment every command keeps (the largest scalar in the protocol).
pub(crate) const ALIGN: usize = 8;

/// Most arguments a scalar command takes.
pub const MAX_SCALAR_ARGS: usize = 4;

/// Shapes remembered by one [`ScalarTemplates`].
const TEMPLATES: usize = 4;

/// An argument a template can write into a copy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar {
    /// `null` (`ValueKind::Null`).
    Null,
    /// A Java boolean.
    Bool(bool),
    /// A Java long (or any integer type; the JVM narrows).
    Int(i64),
    /// A Java double.
    Double(f64),
}

impl Scalar {
    fn kind(self) -> ValueKind {
        match self {
            Scalar::Null => ValueKind::Null,
            Scalar::Bool(_) => ValueKind::Bool,
            Scalar::Int(_) => ValueKind::Int,
            Scalar::Double(_) => ValueKind::Double,
        }
    }
}

/// A scalar command's bytes and where to write its id and values: distances
/// back from the end of `bytes`, which stay fixed as a builder prepends.
pub(crate) struct Template {
    action: Action,
    class_name: Option<String>,
    name: Option<String>,
    return_object_ref: bool,
    kinds: [ValueKind; MAX_SCALAR_ARGS],
    count: usize,
    /// The command as [`Command`]s are stored: front padding, then the data.
    bytes: Vec<u8>,
    table: usize,
    /// The object id's field (0 ids are left out, so they have no field).
    object_id_at: Option<usize>,
    value_at: [usize; MAX_SCALAR_ARGS],
}

impl Template {
    /// How far before the end of its bytes the `Request` table starts.
    pub(crate) fn table(&self) -> usize {
        self.table
    }

    /// Appends the command to `out`, with `head`'s object id and `args`'
    /// values written in (`head` and `args` must fit this template). It ends
    /// where it began modulo [`ALIGN`], as its bytes' length is a multiple.
    pub(crate) fn append(&self, head: &RequestHead<'_>, args: &[Scalar], out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&self.bytes);
        let command = &mut out[start..];
        let mut write = |at: usize, value: &[u8]| {
            let at = command.len() - at;
            command[at..at + value.len()].copy_from_slice(value);
        };
        if let Some(at) = self.object_id_at {
            write(at, &head.object_id.to_le_bytes());
        }
        for (arg, &at) in args.iter().zip(&self.value_at) {
            match *arg {
                Scalar::Null => {}
                Scalar::Bool(b) => write(at, &[u8::from(b)]),
                Scalar::Int(v) => write(at, &v.to_le_bytes()),
                Scalar::Double(d) => write(at, &d.to_le_bytes()),
            }
        }
    }

    fn fits(&self, head: &RequestHead<'_>, args: &[Scalar]) -> bool {
        self.count == args.len()
            && self.action == head.action
            && self.object_id_at.is_some() == (head.object_id != 0)
            && self.return_object_ref == head.return_object_ref
            && self.name.as_deref() == head.name
            && self.class_name.as_deref() == head.class_name
            && args.iter().zip(&self.kinds).all(|(a, k)| a.kind() == *k)
    }

    /// Encodes the command in `fbb` (reset first), its patched fields always written.
    fn encode(
        fbb: &mut FlatBufferBuilder<'static>,
        head: &RequestHead<'_>,
        args: &[Scalar],
    ) -> Self {
        fbb.reset();
        let mut kinds = [ValueKind::Null; MAX_SCALAR_ARGS];
        let mut value_at = [0; MAX_SCALAR_ARGS];
        let mut values: [WIPOffset<fb::Value>; MAX_SCALAR_ARGS] =
            [WIPOffset::new(0); MAX_SCALAR_ARGS];
        for (i, &arg) in args.iter().enumerate() {
            let start = fbb.start_table();
            match arg {
                Scalar::Null => {}
                Scalar::Bool(b) => fbb.push_slot_always(fb::Value::VT_B, b),
                Scalar::Int(v) => fbb.push_slot_always(fb::Value::VT_I, v),
                Scalar::Double(d) => fbb.push_slot_always(fb::Value::VT_D, d),
            }
            // The value just pushed starts at the head.
            value_at[i] = fbb.unfinished_data().len();
            fbb.push_slot(fb::Value::VT_KIND, arg.kind(), ValueKind::Null);
            values[i] = WIPOffset::new(fbb.end_table(start).value());
            kinds[i] = arg.kind();
        }
        let args_vector = fbb.create_vector(&values[..args.len()]);
        let name = head.name.map(|s| fbb.create_string(s));
        let class_name = head.class_name.map(|s| fbb.create_string(s));
        let start = fbb.start_table();
        let object_id_at = (head.object_id != 0).then(|| {
            fbb.push_slot_always(fb::Request::VT_OBJECT_ID, head.object_id);
            fbb.unfinished_data().len()
        });
        fbb.push_slot_always(fb::Request::VT_ARGS, args_vector);
        if let Some(name) = name {
            fbb.push_slot_always(fb::Request::VT_NAME, name);
        }
        if let Some(class_name) = class_name {
            fbb.push_slot_always(fb::Request::VT_CLASS_NAME, class_name);
        }
        fbb.push_slot(
            fb::Request::VT_RETURN_OBJECT_REF,
            head.return_object_ref,
            false,
        );
        fbb.push_slot(fb::Request::VT_ACTION, head.action, Action::Ping);
        let table = fbb.end_table(start).value() as usize;
        let data = fbb.unfinished_data();
        let mut bytes = vec![0; (ALIGN - data.len() % ALIGN) % ALIGN];
        bytes.extend_from_slice(data);
        Template {
            action: head.action,
            class_name: head.class_name.map(str::to_owned),
            name: head.name.map(str::to_owned),
            return_object_ref: head.return_object_ref,
            kinds,
            count: args.len(),
            bytes,
            table,
            object_id_at,
            value_at,
        }
    }
}

/// The shapes of recent scalar commands, the last one used first.
#[derive(Default)]
pub(crate) struct ScalarTemplates {
    templates: Vec<Template>,
}

impl ScalarTemplates {
    /// The template for `head` and `args`, encoded with `fbb` (reset first)
    /// if no recent one fits; `None` for more than [`MAX_SCALAR_ARGS`] arguments.
    pub(crate) fn get(
        &mut self,
        fbb: &mut FlatBufferBuilder<'static>,
        head: &RequestHead<'_>,
        args: &[Scalar],
    ) -> Option<&Template> {
        if args.len() > MAX_SCALAR_ARGS {
            return None;
        }
        match self.templates.iter().position(|t| t.fits(head, args)) {
            Some(0) => {}
            Some(i) => self.templates[..=i].rotate_right(1),
            None => {
                self.templates.truncate(TEMPLATES - 1);
                self.templates.insert(0, Template::encode(fbb, head, args));
            }
        }
        self.templates.first()
    }
}
