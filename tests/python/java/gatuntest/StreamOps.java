package gatuntest;

import gatun.server.arrow.ArrowBridge;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.ValueVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.dictionary.DictionaryEncoder;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.DictionaryEncoding;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;

/** Stream operations the reader tests call from Python: Arrow readers in and out. */
public final class StreamOps {
    private StreamOps() {
    }

    /**
     * Every batch of the reader as text, dictionary columns decoded through
     * the reader's dictionaries: one line per batch, {@code name=v|v|null}
     * columns separated by {@code ;}.
     */
    public static String decodeAll(ArrowReader reader) throws IOException {
        StringBuilder out = new StringBuilder();
        VectorSchemaRoot root = reader.getVectorSchemaRoot();
        while (reader.loadNextBatch()) {
            for (FieldVector v : root.getFieldVectors()) {
                DictionaryEncoding enc = v.getField().getDictionary();
                ValueVector values = enc == null ? v : DictionaryEncoder.decode(v, reader.lookup(enc.getId()));
                try {
                    out.append(v.getName()).append('=');
                    for (int i = 0; i < values.getValueCount(); i++) {
                        out.append(i == 0 ? "" : "|").append(values.isNull(i) ? "null" : values.getObject(i));
                    }
                    out.append(';');
                } finally {
                    if (values != v) {
                        values.close();
                    }
                }
            }
            out.append('\n');
        }
        return out.toString();
    }

    /** {batches, rows, sum of the BIGINT column} over the whole stream. */
    public static long[] sum(ArrowReader reader, String column) throws IOException {
        long[] out = new long[3];
        VectorSchemaRoot root = reader.getVectorSchemaRoot();
        while (reader.loadNextBatch()) {
            BigIntVector v = (BigIntVector) root.getVector(column);
            out[0]++;
            out[1] += root.getRowCount();
            for (int i = 0; i < root.getRowCount(); i++) {
                out[2] += v.isNull(i) ? 0 : v.get(i);
            }
        }
        return out;
    }

    /** Non-null values of a vector (a one-column table from Python). */
    public static int nonNull(FieldVector v) {
        return v.getValueCount() - v.getNullCount();
    }

        /** {@link #sum} run on a new Java thread (its callbacks go through callback lanes). */
    public static long[] sumOnAnotherThread(ArrowReader reader, String column) throws Exception {
        java.util.concurrent.FutureTask<long[]> task = new java.util.concurrent.FutureTask<>(() -> sum(reader, column));
        Thread t = new Thread(task, "stream-reader");
        t.start();
        return task.get();
    }

        /** The same reader back (Python then reads it as a pyarrow RecordBatchReader). */
    public static ArrowReader same(ArrowReader reader) {
        return reader;
    }

    /**
     * A Java IPC stream of {@code batches} batches: {@code k} dictionary-encoded
     * strings over the dictionary [x, y, z] (row i is {@code i % 3}, every
     * fourth row null), {@code n} BIGINT (row i of batch b is b * 100 + i).
     */
    public static ArrowReader dictionaryStream(int batches, int rows) throws IOException {
        var allocator = ArrowBridge.allocator();
        DictionaryEncoding encoding = new DictionaryEncoding(7L, false, new ArrowType.Int(32, true));
        try (VarCharVector dictValues = new VarCharVector("k", allocator)) {
            dictValues.allocateNew();
            String[] words = {"x", "y", "z"};
            for (int i = 0; i < words.length; i++) {
                dictValues.setSafe(i, words[i].getBytes(StandardCharsets.UTF_8));
            }
            dictValues.setValueCount(words.length);
            Dictionary dictionary = new Dictionary(dictValues, encoding);
            DictionaryProvider.MapDictionaryProvider provider = new DictionaryProvider.MapDictionaryProvider(dictionary);
            Field k = new Field("k", new FieldType(true, new ArrowType.Int(32, true), encoding), null);
            Field n = new Field("n", FieldType.nullable(new ArrowType.Int(64, true)), null);
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (VectorSchemaRoot root = VectorSchemaRoot.create(new org.apache.arrow.vector.types.pojo.Schema(
                    List.of(k, n)), allocator);
                 ArrowStreamWriter writer = new ArrowStreamWriter(root, provider, bytes)) {
                writer.start();
                for (int b = 0; b < batches; b++) {
                    org.apache.arrow.vector.IntVector keys = (org.apache.arrow.vector.IntVector) root.getVector("k");
                    BigIntVector nums = (BigIntVector) root.getVector("n");
                    keys.allocateNew(rows);
                    nums.allocateNew(rows);
                    for (int i = 0; i < rows; i++) {
                        if (i % 4 == 3) {
                            keys.setNull(i);
                        } else {
                            keys.set(i, i % 3);
                        }
                        nums.set(i, b * 100L + i);
                    }
                    root.setRowCount(rows);
                    writer.writeBatch();
                }
                writer.end();
            }
            return new ArrowStreamReader(new ByteArrayInputStream(bytes.toByteArray()), allocator);
        }
    }
}
