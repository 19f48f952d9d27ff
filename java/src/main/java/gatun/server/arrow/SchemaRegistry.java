package gatun.server.arrow;

import gatun.protocol.SchemaDefinition;
import gatun.server.ProtocolException;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * One session's schemas, both ways, as Rust's {@code SchemaRegistry}: the
 * schemas Python defined (by Python's id, with the layout every batch is
 * checked against), and the ids Java gave the schemas it sends (from 1; a
 * definition travels with every reply until Python has read one that carried
 * it, since replies on different lanes can be read in any order).
 */
public final class SchemaRegistry {
    private final Map<Long, Defined> defined = new ConcurrentHashMap<>();
    /** Java's schemas by value and by id; guarded by {@link #sent}. */
    private final Map<Schema, Sent> sent = new HashMap<>();
    private final Map<Long, Sent> sentById = new HashMap<>();
    private long nextId = 1;

    /** Package-private: one per {@link ArrowSession}. */
    SchemaRegistry() {
    }

    /**
     * A schema Python defined, with what every batch of it is checked
     * against: its buffer layout (dictionary columns as their indices), its
     * dictionary-encoded columns and the layout of each one's values.
     */
    record Defined(Schema schema, List<Field> layout, List<Dictionaries.Entry> dictionaries,
                           List<List<Field>> valueLayouts) {
        Defined(Schema schema) {
            this(schema, Dictionaries.indexLayout(schema.getFields()), Dictionaries.entries(schema));
        }

        private Defined(Schema schema, List<Field> layout, List<Dictionaries.Entry> dictionaries) {
            this(schema, layout, dictionaries, dictionaries.stream()
                    .map(e -> Dictionaries.indexLayout(List.of(e.valueField()))).toList());
        }
    }

    /**
     * @param id a schema id Python defined
     * @return its definition, or null if Python has not defined it
     */
    Defined get(long id) {
        return defined.get(id);
    }

    /**
     * Registers a schema Python defined.
     *
     * @param def the definition (id and IPC Schema message bytes)
     * @return the schema
     */
    Schema define(SchemaDefinition def) {
        if (def == null) {
            throw new ProtocolException("DefineSchema request has no schema");
        }
        long id = def.schemaId();
        ByteBuffer ipc = def.ipcSchemaAsByteBuffer();
        if (ipc == null || !ipc.hasRemaining()) {
            throw new ProtocolException("schema definition " + id + " has no IPC schema bytes");
        }
        byte[] bytes = new byte[ipc.remaining()];
        ipc.get(bytes);
        Schema schema = decode(bytes);
        Dictionaries.checkNotNested(schema);
        defined.put(id, new Defined(schema));
        return schema;
    }

    /**
     * Decodes an Arrow IPC Schema message (a flatbuffer {@code Message} without
     * length prefix).
     *
     * @param bytes the message bytes
     * @return the schema
     */
    public static Schema decode(byte[] bytes) {
        try {
            Message m = Message.getRootAsMessage(ByteBuffer.wrap(bytes));
            if (m.headerType() != MessageHeader.Schema) {
                throw new IllegalArgumentException("IPC message header type " + m.headerType() + " is not a Schema");
            }
            return MessageSerializer.deserializeSchema(m);
        } catch (IllegalArgumentException e) {
            throw new ProtocolException("malformed IPC schema: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new ProtocolException("malformed IPC schema: " + e, e);
        }
    }

    /**
     * The id a schema Java sends is known by, and its definition while Python
     * may not have read one yet.
     *
     * @param id the schema id
     * @param definition the IPC Schema message bytes, or null once Python has one
     */
    record Assigned(long id, byte[] definition) {
    }

    /**
     * Gives a schema Java sends its id (a new one on first use).
     *
     * @param schema the schema
     * @return its id, with the definition unless Python confirmed reading it
     */
    Assigned assign(Schema schema) {
        synchronized (sent) {
            Sent known = sent.get(schema);
            if (known == null) {
                ByteBuffer msg = MessageSerializer.serializeMetadata(schema,
                        org.apache.arrow.vector.ipc.message.IpcOption.DEFAULT);
                byte[] ipc = new byte[msg.remaining()];
                msg.get(ipc);
                known = new Sent(nextId++, ipc);
                sent.put(schema, known);
                sentById.put(known.id, known);
            }
            return new Assigned(known.id, known.confirmed ? null : known.ipc);
        }
    }

    /**
     * A reply that defined schema {@code id} has been read by Python: later replies need not define it.
     *
     * @param id a schema id from {@link #assign}
     */
    void confirm(long id) {
        synchronized (sent) {
            Sent known = sentById.get(id);
            if (known != null) {
                known.confirmed = true;
            }
        }
    }

    /** A schema Java sent and whether Python is known to have its definition. */
    private static final class Sent {
        final long id;
        final byte[] ipc;
        boolean confirmed;

        Sent(long id, byte[] ipc) {
            this.id = id;
            this.ipc = ipc;
        }
    }
}
