package gatun.spark;

import gatun.server.arrow.ArrowBridge;
import java.io.IOException;
import java.lang.ref.Cleaner;
import java.util.List;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * The {@link ArrowReader} a DataFrame's results are read through: it serves
 * the roots a {@link Source} produces, in partition order, by moving their
 * buffers into its own root (no copy) and closing each once served. Its root
 * lies on {@link ArrowBridge#allocator()}, so a batch crosses to Python in
 * place.
 *
 * <p>Closing the reader, or its becoming unreachable, releases what the source
 * still holds (roots parked by tasks and not yet served) and the batch served
 * last.
 */
final class PartitionReader extends ArrowReader {
    /** Where the reader's batches come from. */
    interface Source extends Runnable {
        /**
         * @return the next batch, owned by the caller, or null at the end
         * @throws IOException if the batch cannot be produced
         */
        VectorSchemaRoot next() throws IOException;

        /** Releases what the source holds; called once (must not refer to the reader). */
        @Override
        void run();
    }

    private final Schema schema;
    private final Source source;
    private final Cleaner.Cleanable cleanable;
    private long rows;
    private volatile Throwable failure;

    /** What an unreachable reader leaves: its source's roots, and the batch it served last. */
    private final Leftovers leftovers;

    PartitionReader(Schema schema, Source source) {
        super(ArrowBridge.allocator());
        this.schema = schema;
        this.source = source;
        this.leftovers = new Leftovers(source);
        this.cleanable = Parked.CLEANER.register(this, leftovers);
    }

    /** Releases what a reader holds; refers to its parts, never to the reader (the Cleaner's rule). */
    private static final class Leftovers implements Runnable {
        private final Source source;
        private volatile VectorSchemaRoot served;

        Leftovers(Source source) {
            this.source = source;
        }

        @Override
        public void run() {
            source.run();
            VectorSchemaRoot root = served;
            if (root != null) {
                root.close(); // the last batch served, when nobody closed the reader
            }
        }
    }

    @Override
    public boolean loadNextBatch() throws IOException {
        ensureInitialized();
        VectorSchemaRoot own = getVectorSchemaRoot();
        leftovers.served = own;
        while (true) {
            VectorSchemaRoot next;
            try {
                next = source.next();
            } catch (ResultFailure e) {
                failure = e.getCause();
                throw e;
            }
            if (next == null) {
                own.setRowCount(0);
                return false;
            }
            try {
                if (next.getRowCount() == 0) {
                    continue; // empty partitions add nothing to the stream
                }
                List<FieldVector> from = next.getFieldVectors();
                List<FieldVector> to = own.getFieldVectors();
                for (int i = 0; i < from.size(); i++) {
                    from.get(i).makeTransferPair(to.get(i)).transfer();
                }
                own.setRowCount(next.getRowCount());
                WideValues.align(own);
                rows += next.getRowCount();
                return true;
            } finally {
                next.close();
            }
        }
    }

    /** @return the exception the result's Spark job failed with, or null */
    Throwable failure() {
        return failure;
    }

    /** @return rows served so far */
    long rowsServed() {
        return rows;
    }

    @Override
    public long bytesRead() {
        return 0;
    }

    @Override
    protected void closeReadSource() {
        cleanable.clean();
    }

    @Override
    protected Schema readSchema() {
        return schema;
    }
}
