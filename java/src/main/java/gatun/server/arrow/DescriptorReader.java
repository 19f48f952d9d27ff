package gatun.server.arrow;

import gatun.protocol.BatchDescriptor;
import gatun.protocol.BufferRef;
import gatun.protocol.FieldNode;
import gatun.protocol.RegionRef;
import gatun.server.ProtocolException;
import gatun.server.shm.Segment;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.TypeLayout;
import org.apache.arrow.vector.ipc.message.ArrowFieldNode;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;

/**
 * Reads and validates a {@link BatchDescriptor} Python sent, before any shared
 * memory is touched: its regions, field nodes, variadic counts and buffers,
 * checked against the schema's layout (counts, row ranges, every buffer inside
 * its region and long enough for its rows). Java's half of Rust's
 * {@code descriptor.rs}; every failure names what was wrong.
 */
final class DescriptorReader {
    private DescriptorReader() {
    }

    /** One region of a descriptor, as read and (once validated) mapped. */
    static final class Region {
        long handle;
        int segment;
        long offset;
        long length;
        Segment mapping;
        RegionAllocation allocation;
        ArrowBuf buf;
    }

    /**
     * The nodes, buffers and variadic counts of a record batch or a
     * dictionary batch (two generated tables with the same fields).
     */
    record Parts(java.util.function.IntSupplier nodeCount,
                         java.util.function.ObjIntConsumer<FieldNode> readNode,
                         java.util.function.IntSupplier bufferCount,
                         java.util.function.ObjIntConsumer<BufferRef> readBuffer,
                         java.util.function.IntSupplier variadicCount,
                         java.util.function.IntToLongFunction readVariadic) {
        static Parts of(BatchDescriptor d) {
            return new Parts(d::nodesLength, d::nodes, d::buffersLength, d::buffers, d::variadicBufferCountsLength,
                    d::variadicBufferCounts);
        }

        static Parts of(gatun.protocol.DictionaryBatch d) {
            return new Parts(d::nodesLength, d::nodes, d::buffersLength, d::buffers, d::variadicBufferCountsLength,
                    d::variadicBufferCounts);
        }

        int nodesLength() {
            return nodeCount.getAsInt();
        }

        void node(FieldNode into, int i) {
            readNode.accept(into, i);
        }

        int buffersLength() {
            return bufferCount.getAsInt();
        }

        void buffer(BufferRef into, int i) {
            readBuffer.accept(into, i);
        }

        int variadicLength() {
            return variadicCount.getAsInt();
        }

        long variadic(int i) {
            return readVariadic.applyAsLong(i);
        }
    }

    /** Most rows in one batch (Java vector lengths are {@code int}). */
    static final long MAX_ROWS = Integer.MAX_VALUE;

    /**
     * A record batch or dictionary batch of a descriptor, read and checked:
     * what a loader needs, every buffer inside its region.
     *
     * @param dictionaryId the dictionary's id (-1 for the record batch)
     * @param length rows
     * @param nodes field nodes
     * @param variadic variadic buffer counts
     * @param buffers {region index, offset, length} per buffer
     */
    record Part(long dictionaryId, long length, List<ArrowFieldNode> nodes, List<Long> variadic, long[][] buffers) {
    }

    /**
     * A descriptor checked against its schema.
     *
     * @param batch the record batch
     * @param dictionaries the dictionaries of its dictionary-encoded columns, in schema order
     */
    record Checked(Part batch, List<Part> dictionaries) {
    }

    /**
     * Reads and checks a whole descriptor against its schema before any
     * shared memory is touched: row counts, nodes, buffers inside their
     * regions and long enough for their rows, and each dictionary batch
     * against the column that uses it.
     *
     * @param d the descriptor
     * @param regions its regions, as {@link #readRegions} read them
     * @param defined the schema it names
     * @return the parts a loader needs
     */
    static Checked check(BatchDescriptor d, Region[] regions, SchemaRegistry.Defined defined) {
        long length = d.length();
        if (length < 0 || length > MAX_ROWS) {
            throw new IllegalArgumentException("batch length " + length + " is outside 0.." + MAX_ROWS);
        }
        // Dictionary-encoded columns are laid out as their indices.
        Part batch = part(-1, length, Parts.of(d), regions, defined.layout());
        List<Dictionaries.Entry> expected = defined.dictionaries();
        int n = count(d.dictionariesLength(), "dictionaries", 1 << 16);
        if (n != expected.size()) {
            throw new IllegalArgumentException("descriptor has " + n + " dictionaries, the schema has "
                    + expected.size() + " dictionary-encoded columns");
        }
        List<Part> dictionaries = new ArrayList<>(n);
        gatun.protocol.DictionaryBatch db = new gatun.protocol.DictionaryBatch();
        for (int i = 0; i < n; i++) {
            d.dictionaries(db, i);
            Dictionaries.Entry e = expected.get(i);
            if (db.id() != e.id()) {
                throw new IllegalArgumentException("dictionary " + i + " has id " + db.id() + ", column "
                        + e.path() + " uses dictionary id " + e.id());
            }
            if (db.isDelta()) {
                throw new IllegalArgumentException("dictionary " + e.id() + ": delta dictionaries are not "
                        + "supported; send the whole dictionary");
            }
            long dictLength = db.length();
            if (dictLength < 0 || dictLength > MAX_ROWS) {
                throw new IllegalArgumentException("dictionary " + e.id() + " length " + dictLength
                        + " is outside 0.." + MAX_ROWS);
            }
            dictionaries.add(part(e.id(), dictLength, Parts.of(db), regions, defined.valueLayouts().get(i)));
        }
        return new Checked(batch, dictionaries);
    }

    private static Part part(long id, long length, Parts parts, Region[] regions, List<Field> layout) {
        List<ArrowFieldNode> nodes = readNodes(parts, layout);
        checkTopLevelLengths(layout, nodes, length);
        List<Long> variadic = readVariadic(parts);
        long[][] buffers = readBuffers(parts, regions, layout, variadic);
        checkBufferSizes(layout, nodes, buffers, variadic, new int[3]);
        return new Part(id, length, nodes, variadic, buffers);
    }

    static int count(int n, String what, int max) {
        if (n < 0 || n > max) {
            throw new ProtocolException("descriptor has " + Integer.toUnsignedString(n) + " " + what
                    + ", at most " + max + " allowed");
        }
        return n;
    }

    static Region[] readRegions(BatchDescriptor d) {
        int n;
        Region[] out;
        try {
            n = count(d.regionsLength(), "regions", 1 << 16);
            out = new Region[n];
            RegionRef ref = new RegionRef();
            for (int i = 0; i < n; i++) {
                d.regions(ref, i);
                Region r = new Region();
                r.handle = ref.handle();
                r.segment = (int) ref.segment();
                r.offset = ref.offset();
                r.length = ref.length();
                out[i] = r;
            }
        } catch (ProtocolException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new ProtocolException("malformed descriptor regions: " + e, e);
        }
        return out;
    }

    static int expectedNodes(List<Field> fields) {
        int n = 0;
        for (Field f : fields) {
            n += 1 + expectedNodes(f.getChildren());
        }
        return n;
    }

    static int expectedBuffers(List<Field> fields, int[] viewColumns) {
        int n = 0;
        for (Field f : fields) {
            ArrowType t = f.getType();
            n += TypeLayout.getTypeBufferCount(t);
            if (t instanceof ArrowType.Utf8View || t instanceof ArrowType.BinaryView) {
                viewColumns[0]++;
            }
            n += expectedBuffers(f.getChildren(), viewColumns);
        }
        return n;
    }

    static List<ArrowFieldNode> readNodes(Parts d, List<Field> fields) {
        int n = count(d.nodesLength(), "field nodes", 1 << 20);
        int expected = expectedNodes(fields);
        if (n != expected) {
            throw new IllegalArgumentException("descriptor has " + n + " field nodes, the schema needs " + expected);
        }
        List<ArrowFieldNode> out = new ArrayList<>(n);
        FieldNode node = new FieldNode();
        for (int i = 0; i < n; i++) {
            d.node(node, i);
            long len = node.length();
            long nulls = node.nullCount();
            if (len < 0 || len > MAX_ROWS || nulls < 0 || nulls > len) {
                throw new IllegalArgumentException("field node " + i + " (length " + len + ", null count " + nulls
                        + ") is out of range");
            }
            out.add(new ArrowFieldNode(len, nulls));
        }
        return out;
    }

    /** Every top-level column has exactly the batch's rows (as in IPC). */
    static void checkTopLevelLengths(List<Field> fields, List<ArrowFieldNode> nodes, long length) {
        int at = 0;
        for (Field f : fields) {
            long n = nodes.get(at).getLength();
            if (n != length) {
                throw new IllegalArgumentException("column " + f.getName() + " has " + n + " rows, the batch "
                        + length);
            }
            at += expectedNodes(List.of(f));
        }
    }

    static List<Long> readVariadic(Parts d) {
        int n = count(d.variadicLength(), "variadic buffer counts", 1 << 20);
        List<Long> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            long c = d.variadic(i);
            if (c < 0 || c > (1 << 20)) {
                throw new IllegalArgumentException("variadic buffer count " + c + " is out of range");
            }
            out.add(c);
        }
        return out;
    }

    /** Returns {region index, offset, length} per buffer, every one inside its region. */
    static long[][] readBuffers(Parts d, Region[] regions, List<Field> fields, List<Long> variadic) {
        int n = count(d.buffersLength(), "buffers", 1 << 22);
        int[] views = new int[1];
        long expected = expectedBuffers(fields, views);
        if (views[0] != variadic.size()) {
            throw new IllegalArgumentException("descriptor has " + variadic.size()
                    + " variadic buffer counts, the schema has " + views[0] + " view columns");
        }
        for (long c : variadic) {
            expected += c;
        }
        if (n != expected) {
            throw new IllegalArgumentException("descriptor has " + n + " buffers, the schema needs " + expected);
        }
        long[][] out = new long[n][];
        BufferRef ref = new BufferRef();
        for (int i = 0; i < n; i++) {
            d.buffer(ref, i);
            long region = ref.region();
            long off = ref.offset();
            long len = ref.length();
            if (len == 0) {
                out[i] = new long[] {-1, 0, 0}; // an absent buffer needs no region
                continue;
            }
            if (region >= regions.length) {
                throw new IllegalArgumentException("buffer " + i + " names region " + region + " of "
                        + regions.length);
            }
            long regionLen = regions[(int) region].length;
            if (off < 0 || len < 0 || regionLen < 0 || off > regionLen || len > regionLen - off) {
                throw new IllegalArgumentException("buffer " + i + " (" + Long.toUnsignedString(len) + " bytes at "
                        + Long.toUnsignedString(off) + ") exceeds its region of "
                        + Long.toUnsignedString(regionLen) + " bytes");
            }
            out[i] = new long[] {region, off, len};
        }
        return out;
    }

    /**
     * Checks each buffer is long enough for its node's rows (validity bitmaps
     * when there are nulls, fixed-width data, offsets, type ids, view structs),
     * so a vector never has to grow or read past what Python sent.
     *
     * @param at {node index, buffer index, variadic index}
     */
    static void checkBufferSizes(List<Field> fields, List<ArrowFieldNode> nodes, long[][] buffers,
                                         List<Long> variadic, int[] at) {
        for (Field f : fields) {
            ArrowType t = f.getType();
            ArrowFieldNode node = nodes.get(at[0]++);
            long n = node.getLength();
            List<org.apache.arrow.vector.BufferLayout> layouts = TypeLayout.getTypeLayout(t).getBufferLayouts();
            boolean hasOffsets = false;
            for (org.apache.arrow.vector.BufferLayout l : layouts) {
                hasOffsets |= l.getType() == org.apache.arrow.vector.BufferLayout.BufferType.OFFSET;
            }
            boolean union = t instanceof ArrowType.Union;
            // List-views carry one offset (and one size) per row, not n + 1.
            boolean perRowOffsets = union || t instanceof ArrowType.ListView || t instanceof ArrowType.LargeListView;
            for (org.apache.arrow.vector.BufferLayout l : layouts) {
                int index = at[1]++;
                long len = buffers[index][2];
                long need;
                switch (l.getType()) {
                    case VALIDITY:
                        need = node.getNullCount() > 0 ? (n + 7) / 8 : 0;
                        break;
                    case OFFSET:
                        need = n == 0 ? 0 : (perRowOffsets ? n : n + 1) * (l.getTypeBitWidth() / 8);
                        break;
                    case DATA:
                        need = hasOffsets ? 0 : (n * l.getTypeBitWidth() + 7) / 8;
                        break;
                    case TYPE:
                        // The format's type ids are one byte each; TypeLayout
                        // reports a wider buffer than UnionVector uses.
                        need = union ? n : (n * l.getTypeBitWidth() + 7) / 8;
                        break;
                    default: // SIZE, VIEWS: fixed width per row
                        need = (n * l.getTypeBitWidth() + 7) / 8;
                        break;
                }
                if (len < need) {
                    throw new IllegalArgumentException("buffer " + index + " (" + l.getType() + " of column "
                            + f.getName() + ") holds " + len + " bytes, " + n + " rows need " + need);
                }
            }
            if (t instanceof ArrowType.Utf8View || t instanceof ArrowType.BinaryView) {
                at[1] += (int) (long) variadic.get(at[2]++);
            }
            checkBufferSizes(f.getChildren(), nodes, buffers, variadic, at);
        }
    }
}
