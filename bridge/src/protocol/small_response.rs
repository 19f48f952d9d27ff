//! A quick check for the commonest response: a value of scalars and strings.
//!
//! The generated verifier visits every field a table may have, fifteen for a
//! `Value`, each with its own vtable lookup; for a call returning an `int` it
//! was a quarter of the Python side's instructions per round trip. Most
//! replies are a `Response` with only `value` set and a `Value` made of
//! scalars, a string and a class name. [`is_small_response`] walks only what
//! such a buffer holds, with the same bounds, alignment, UTF-8 and terminator
//! checks the generated verifier makes; anything else it does not accept, and
//! the caller verifies that in full.

use super::{Response, Value};

/// Whether `bytes` is a `Response` with at most a `value`, whose fields are
/// among kind, b, i, d, object_id, element_type, s and class_name, and which
/// the generated verifier would accept. `false` means "verify in full", not
/// "invalid".
pub(super) fn is_small_response(bytes: &[u8]) -> bool {
    check(Buffer(bytes)).is_some()
}

fn check(buf: Buffer<'_>) -> Option<()> {
    let root = buf.uoffset_target(0)?;
    let response = buf.table(root)?;
    for slot in response.slots() {
        match slot? {
            (_, None) => {}
            (Response::VT_VALUE, Some(at)) => value(buf, buf.uoffset_target(at)?)?,
            _ => return None, // error, batch, callback or a field newer than us
        }
    }
    Some(())
}

fn value(buf: Buffer<'_>, at: usize) -> Option<()> {
    let table = buf.table(at)?;
    for slot in table.slots() {
        match slot? {
            (_, None) => {}
            (Value::VT_KIND | Value::VT_B | Value::VT_ELEMENT_TYPE, Some(at)) => {
                buf.scalar(at, 1)?
            }
            (Value::VT_I | Value::VT_D | Value::VT_OBJECT_ID, Some(at)) => buf.scalar(at, 8)?,
            (Value::VT_S | Value::VT_CLASS_NAME, Some(at)) => {
                buf.string(buf.uoffset_target(at)?)?
            }
            _ => return None,
        }
    }
    Some(())
}

#[derive(Clone, Copy)]
struct Buffer<'a>(&'a [u8]);

impl<'a> Buffer<'a> {
    /// `size` bytes at `at`, aligned to `size` as the verifier requires
    /// (alignment is relative to the buffer's start, as there).
    fn bytes(self, at: usize, size: usize) -> Option<&'a [u8]> {
        if at % size != 0 {
            return None;
        }
        self.0.get(at..at.checked_add(size)?)
    }

    fn scalar(self, at: usize, size: usize) -> Option<()> {
        self.bytes(at, size).map(|_| ())
    }

    fn u16(self, at: usize) -> Option<usize> {
        let b = self.bytes(at, 2)?;
        Some(u16::from_le_bytes([b[0], b[1]]) as usize)
    }

    fn u32(self, at: usize) -> Option<u32> {
        let b = self.bytes(at, 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Where the forward offset at `at` points.
    fn uoffset_target(self, at: usize) -> Option<usize> {
        at.checked_add(self.u32(at)? as usize)
    }

    /// The table at `at`: its signed offset, and a vtable of even length
    /// wholly inside the buffer.
    fn table(self, at: usize) -> Option<Table<'a>> {
        let soffset = self.u32(at)? as i32;
        let vtable = if soffset > 0 {
            at.checked_sub(soffset.unsigned_abs() as usize)?
        } else {
            at.checked_add(soffset.unsigned_abs() as usize)?
        };
        let len = self.u16(vtable)?;
        if len % 2 != 0 {
            return None;
        }
        let entries = self.0.get(vtable..vtable.checked_add(len)?)?;
        Some(Table { at, entries })
    }

    /// A string at `at`: its length, its bytes, valid UTF-8, and the NUL after them.
    fn string(self, at: usize) -> Option<()> {
        let len = self.u32(at)? as usize;
        let start = at + 4;
        let text = self.0.get(start..start.checked_add(len)?)?;
        std::str::from_utf8(text).ok()?;
        (*self.0.get(start + len)? == 0).then_some(())
    }
}

/// A table's position and its vtable's bytes (length and size first).
struct Table<'a> {
    at: usize,
    entries: &'a [u8],
}

impl Table<'_> {
    /// Every field slot past the two sizes: its vtable offset (the generated
    /// `VT_` constant) and where the field is, if present.
    fn slots(&self) -> impl Iterator<Item = Option<(u16, Option<usize>)>> + '_ {
        (4..self.entries.len()).step_by(2).map(|slot| {
            let offset = u16::from_le_bytes([self.entries[slot], self.entries[slot + 1]]);
            let at = match offset {
                0 => None,
                _ => Some(self.at.checked_add(offset as usize)?),
            };
            Some((slot as u16, at))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{JavaError, JavaErrorArgs, ResponseArgs, ValueArgs, ValueKind};
    use flatbuffers::FlatBufferBuilder;
    use proptest::prelude::*;

    fn full_verifier_accepts(bytes: &[u8]) -> bool {
        flatbuffers::root::<Response>(bytes).is_ok()
    }

    /// A response as the JVM writes one: `shape` picks which fields are set.
    fn response(shape: u8, i: i64, d: f64, text: &str) -> Vec<u8> {
        let mut fbb = FlatBufferBuilder::new();
        let s = (shape & 4 != 0).then(|| fbb.create_string(text));
        let class_name = (shape & 8 != 0).then(|| fbb.create_string("java.util.ArrayList"));
        let error = (shape & 32 != 0).then(|| {
            let message = fbb.create_string(text);
            JavaError::create(
                &mut fbb,
                &JavaErrorArgs {
                    message: Some(message),
                    ..Default::default()
                },
            )
        });
        let value = (shape & 16 == 0).then(|| {
            Value::create(
                &mut fbb,
                &ValueArgs {
                    kind: ValueKind(shape & 3),
                    b: shape & 64 != 0,
                    i,
                    d,
                    s,
                    object_id: i ^ 0x55,
                    class_name,
                    ..Default::default()
                },
            )
        });
        let root = Response::create(
            &mut fbb,
            &ResponseArgs {
                value,
                error,
                ..Default::default()
            },
        );
        fbb.finish(root, None);
        fbb.finished_data().to_vec()
    }

    #[test]
    fn the_usual_replies_take_the_quick_path_and_read_back() {
        for shape in [0, 1, 2, 3, 4, 8, 12, 16, 64 | 1] {
            let bytes = response(shape, -7, 2.5, "héllo");
            assert!(is_small_response(&bytes), "shape {shape}");
            let r = crate::protocol::read_response(&bytes).unwrap();
            if shape & 16 == 0 {
                let v = r.value().unwrap();
                assert_eq!((v.i(), v.d(), v.kind()), (-7, 2.5, ValueKind(shape & 3)));
                assert_eq!(v.s(), (shape & 4 != 0).then_some("héllo"));
            } else {
                assert!(r.value().is_none());
            }
        }
    }

    #[test]
    fn other_replies_go_to_the_full_verifier() {
        assert!(!is_small_response(&response(32, 1, 1.0, "boom")));
        assert!(
            crate::protocol::read_response(&response(32, 1, 1.0, "boom"))
                .unwrap()
                .error()
                .is_some()
        );
        assert!(!is_small_response(&[]));
        assert!(!is_small_response(&[4, 0, 0]));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// The property that makes the quick path sound: whatever it accepts,
        /// the generated verifier accepts too, so reading it unchecked is safe.
        #[test]
        fn what_the_quick_check_accepts_the_verifier_accepts(
            shape in 0u8..128,
            i in any::<i64>(),
            d in any::<f64>(),
            text in "\\PC{0,12}",
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
            cut in any::<usize>(),
        ) {
            let mut bytes = response(shape, i, d, &text);
            for (at, byte) in edits {
                let n = bytes.len();
                bytes[at % n] = byte;
            }
            if cut % 5 == 0 {
                bytes.truncate(cut % (bytes.len() + 1));
            }
            if is_small_response(&bytes) {
                prop_assert!(full_verifier_accepts(&bytes), "accepted what the verifier refuses: {bytes:?}");
            }
        }

        /// Strings that are not UTF-8, or lack their NUL, are never accepted.
        #[test]
        fn a_bad_string_is_not_accepted(at in 0usize..5, byte in 0x80u8..=0xff) {
            let mut bytes = response(4, 1, 1.0, "abcde");
            let start = bytes.windows(5).position(|w| w == b"abcde").unwrap();
            bytes[start + at] = byte;
            prop_assert!(!is_small_response(&bytes) || full_verifier_accepts(&bytes));
            prop_assert!(std::str::from_utf8(&bytes[start..start + 5]).is_ok() || !is_small_response(&bytes));
            bytes[start + at] = b'a';
            bytes[start + 5] = b'!';
            prop_assert!(!is_small_response(&bytes));
        }
    }
}
