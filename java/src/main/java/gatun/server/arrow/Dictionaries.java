package gatun.server.arrow;

import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.vector.types.pojo.DictionaryEncoding;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * The dictionary-encoded columns of a schema in Arrow IPC's message format
 * (a dictionary field's type is its value type; the encoding names the index
 * type and the dictionary id).
 *
 * <p>Dictionaries cross in the order of a depth-first walk of the schema, the
 * order in which Arrow IPC writers number them; a dictionary whose values are
 * themselves dictionary-encoded is refused.
 */
final class Dictionaries {
    private Dictionaries() {
    }

    /**
     * One dictionary-encoded column.
     *
     * @param id the dictionary id
     * @param path the column's dotted path
     * @param valueField the field of the dictionary's values
     */
    record Entry(long id, String path, Field valueField) {
    }

    /** @return the dictionary-encoded columns of {@code schema}, depth first */
    static List<Entry> entries(Schema schema) {
        List<Entry> out = new ArrayList<>();
        for (Field f : schema.getFields()) {
            collect(f, f.getName(), out);
        }
        return out;
    }

    private static void collect(Field f, String path, List<Entry> out) {
        DictionaryEncoding e = f.getDictionary();
        if (e != null) {
            out.add(new Entry(e.getId(), path, valueField(f)));
            return;
        }
        for (Field c : f.getChildren()) {
            collect(c, path + "." + c.getName(), out);
        }
    }

    private static Field valueField(Field f) {
        return new Field(f.getName(), new FieldType(f.isNullable(), f.getType(), null, f.getMetadata()),
                f.getChildren());
    }

    /**
     * Refuses a dictionary whose values are dictionary-encoded, and two
     * columns sharing one dictionary id.
     *
     * @param schema a schema in message format
     */
    static void checkNotNested(Schema schema) {
        List<Entry> entries = entries(schema);
        java.util.Set<Long> ids = new java.util.HashSet<>();
        for (Entry e : entries) {
            if (!ids.add(e.id())) {
                throw new IllegalArgumentException("column " + e.path() + " reuses dictionary id " + e.id()
                        + "; each dictionary-encoded column needs its own dictionary");
            }
            for (Field c : e.valueField().getChildren()) {
                if (!entries(new Schema(List.of(c))).isEmpty()) {
                    throw new IllegalArgumentException("column " + e.path() + ": a dictionary whose values are "
                            + "themselves dictionary-encoded is not supported");
                }
            }
        }
    }

    /**
     * The dictionary-encoded fields of a schema in memory format (index
     * types), depth first.
     *
     * @param schema a schema in memory format, e.g. a root's
     * @return its dictionary-encoded fields
     */
    static List<Field> indexFields(Schema schema) {
        List<Field> out = new ArrayList<>();
        for (Field f : schema.getFields()) {
            collectIndexFields(f, out);
        }
        return out;
    }

    private static void collectIndexFields(Field f, List<Field> out) {
        if (f.getDictionary() != null) {
            out.add(f);
            return;
        }
        for (Field c : f.getChildren()) {
            collectIndexFields(c, out);
        }
    }

    /**
     * A memory-format schema (dictionary columns as their index type) in
     * message format (as their value type), the form Arrow IPC sends.
     *
     * @param schema a root's schema
     * @param provider the dictionaries its encodings name
     * @return the schema as it crosses
     */
    static Schema messageFormat(Schema schema, org.apache.arrow.vector.dictionary.DictionaryProvider provider) {
        List<Field> fields = new ArrayList<>();
        for (Field f : schema.getFields()) {
            fields.add(org.apache.arrow.vector.util.DictionaryUtility.toMessageFormat(f, provider,
                    new java.util.HashSet<>()));
        }
        return new Schema(fields, schema.getCustomMetadata());
    }

    /**
     * The fields as their buffers are laid out in a record batch: a
     * dictionary-encoded column is its index vector (no children).
     *
     * @param fields fields in message format
     * @return the same fields in memory format
     */
    static List<Field> indexLayout(List<Field> fields) {
        List<Field> out = new ArrayList<>(fields.size());
        for (Field f : fields) {
            DictionaryEncoding e = f.getDictionary();
            if (e != null) {
                out.add(new Field(f.getName(), new FieldType(f.isNullable(), e.getIndexType(), e, f.getMetadata()),
                        List.of()));
            } else {
                out.add(new Field(f.getName(), f.getFieldType(), indexLayout(f.getChildren())));
            }
        }
        return out;
    }
}
