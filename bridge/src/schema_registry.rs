//! The schema registry of a session: schemas are defined once per session
//! and then named by id. Ours (sent to the JVM, keyed by their IPC bytes,
//! re-sent until the JVM has confirmed one) and the JVM's (defined in its
//! replies, kept with a binary twin for unverified text).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use arrow_ipc::writer::{DictionaryTracker, IpcDataGenerator, IpcWriteOptions};
use arrow_schema::Schema;
use gatun_arena::strings_as_binary;

use crate::error::{BridgeError, Result};
use crate::protocol as fb;

/// Both directions' schemas of one session.
pub struct SchemaRegistry {
    ours: Mutex<OurSchemas>,
    next_id: AtomicU32,
    peer: Mutex<HashMap<u32, PeerSchema>>,
}

/// Schemas this session has defined, by their IPC bytes.
#[derive(Default)]
struct OurSchemas {
    by_bytes: HashMap<Vec<u8>, u32>,
    /// Ids the JVM has acknowledged (a send that carried the definition
    /// succeeded). Until then every send carries the definition again: two
    /// threads' first batches travel on different lanes, and the one without
    /// the definition may arrive first. The JVM accepts a repeated definition.
    confirmed: HashSet<u32>,
    /// The last schema seen, so a stream of batches skips re-encoding it.
    last: Option<(Arc<Schema>, u32)>,
}

/// A schema the JVM defined, and the same schema with its string types
/// replaced by binary ones (`None` when it has none).
#[derive(Clone)]
pub struct PeerSchema {
    /// The schema as the JVM declared it.
    pub declared: Arc<Schema>,
    /// The same with string types made binary, if it has any.
    pub binary: Option<Arc<Schema>>,
}

impl Default for SchemaRegistry {
    fn default() -> Self {
        SchemaRegistry {
            ours: Mutex::default(),
            next_id: AtomicU32::new(1),
            peer: Mutex::default(),
        }
    }
}

impl SchemaRegistry {
    /// The id of `schema`, and its IPC definition unless the JVM has
    /// confirmed it.
    pub fn id_of(&self, schema: &Arc<Schema>) -> (u32, Option<Vec<u8>>) {
        let mut reg = self.ours.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((last, id)) = &reg.last {
            if Arc::ptr_eq(last, schema) && reg.confirmed.contains(id) {
                return (*id, None);
            }
        }
        let bytes = encode_schema(schema);
        let next = &self.next_id;
        let id = *reg
            .by_bytes
            .entry(bytes.clone())
            .or_insert_with(|| next.fetch_add(1, Ordering::Relaxed));
        reg.last = Some((schema.clone(), id));
        let definition = (!reg.confirmed.contains(&id)).then_some(bytes);
        (id, definition)
    }

    /// The JVM answered a send that carried schema `id`'s definition.
    pub fn confirm(&self, id: u32) {
        let mut reg = self.ours.lock().unwrap_or_else(|e| e.into_inner());
        reg.confirmed.insert(id);
    }

    /// A schema the JVM defined (with `definition`, on its first use) or
    /// used before under `id`.
    pub fn peer(
        &self,
        id: u32,
        definition: Option<fb::SchemaDefinition<'_>>,
    ) -> Result<PeerSchema> {
        let mut schemas = self.peer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(def) = definition {
            let bytes = def.ipc_schema().map(|b| b.bytes()).unwrap_or_default();
            let schema = decode_schema(bytes)
                .map_err(|e| BridgeError::Protocol(format!("schema {id} from the JVM: {e}")))?;
            let binary = strings_as_binary(&schema).map(Arc::new);
            let declared = Arc::new(schema);
            schemas.insert(def.schema_id(), PeerSchema { declared, binary });
        }
        schemas.get(&id).cloned().ok_or_else(|| {
            BridgeError::Protocol(format!("the JVM used schema id {id} without defining it"))
        })
    }
}

/// Reads an IPC Schema message from the other process. arrow-ipc verifies
/// the FlatBuffer but panics on some well-formed yet meaningless contents
/// (an integer type 58944 bits wide, say); such a schema is an error here,
/// not a panic (found by `bridge/tests/arrow_import_fuzz.rs`).
fn decode_schema(bytes: &[u8]) -> std::result::Result<Schema, String> {
    match std::panic::catch_unwind(|| arrow_ipc::convert::try_schema_from_flatbuffer_bytes(bytes)) {
        Ok(Ok(schema)) => Ok(schema),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => Err(panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("not a schema arrow-rs can read")
            .to_owned()),
    }
}

/// The IPC Schema message for `schema`.
pub fn encode_schema(schema: &Schema) -> Vec<u8> {
    let mut tracker = DictionaryTracker::new(false);
    IpcDataGenerator::default()
        .schema_to_bytes_with_dictionary_tracker(schema, &mut tracker, &IpcWriteOptions::default())
        .ipc_message
}
