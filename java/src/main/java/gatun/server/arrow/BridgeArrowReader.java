package gatun.server.arrow;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.ipc.message.ArrowDictionaryBatch;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * An {@link ArrowReader} over batches Python sends through the payload arena:
 * what JVM code receives for a Python stream ({@code RecordBatchReader}) or for
 * data with dictionary-encoded columns. It is also the
 * {@link org.apache.arrow.vector.dictionary.DictionaryProvider} of those
 * columns ({@link #lookup(long)}).
 *
 * <p>Use it like any {@code ArrowReader}: {@link #getVectorSchemaRoot()} once,
 * then {@link #loadNextBatch()} until it returns false; each call replaces the
 * root's data (and the dictionaries the batch carried), releasing the previous
 * batch's shared memory. Keep data across batches by copying or transferring
 * it out of the root. Nothing is copied on the way in: the vectors wrap
 * Python's arena regions, which are read-only by contract.
 *
 * <p>Batches arrive either all at once (Python pushes them before handing the
 * reader over) or on demand from a pull source ({@link #setSource}), which
 * keeps a stream larger than the arena within bounds. Thread-safe for one
 * consumer and any number of producers.
 */
public final class BridgeArrowReader extends ArrowReader {
    /** The reader whose source is being called on this thread (see {@link #pulling()}). */
    private static final ThreadLocal<BridgeArrowReader> PULLING = new ThreadLocal<>();

    private final Schema schema;
    private final ArrayDeque<StagedBatch> queue = new ArrayDeque<>();
    /** Guarded by this. */
    private boolean ended;
    /** Guarded by this. */
    private boolean closed;
    /** Guarded by this. */
    private BatchSource source;
    private long bytesRead;

    /**
     * An empty reader, still open to batches: the bridge makes one for each
     * Python stream, then {@link #offer}s batches or attaches a pull source.
     * Its dictionaries can be looked up before the first batch arrives.
     *
     * @param schema the stream's schema in IPC message format
     * @param allocator the allocator of the reader's vectors
     */
    public BridgeArrowReader(Schema schema, BufferAllocator allocator) {
        super(allocator);
        this.schema = schema;
        try {
            ensureInitialized(); // so lookup() and getDictionaryIds() work before the first batch
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e); // readSchema() does no I/O
        }
    }

    /**
     * A reader of one batch: the data of {@code root}, which it references
     * (the root's buffers stay valid while either is open).
     *
     * @param root a root without dictionary-encoded columns
     * @return a reader that yields the root's rows once
     */
    public static BridgeArrowReader over(org.apache.arrow.vector.VectorSchemaRoot root) {
        BridgeArrowReader reader = new BridgeArrowReader(root.getSchema(), root.getFieldVectors().isEmpty()
                ? ArrowBridge.allocator() : root.getFieldVectors().get(0).getAllocator());
        reader.offer(new StagedBatch(root.getSchema(), new org.apache.arrow.vector.VectorUnloader(root)
                .getRecordBatch(), List.of()));
        reader.end();
        return reader;
    }

    /**
     * The schema of every batch of the stream, known before the first batch,
     * so JVM code can check the columns before reading any data.
     *
     * @return the stream's schema as it crossed (dictionary columns with their value types)
     */
    public Schema getSchema() {
        return schema;
    }

    /**
     * Queues the next batch. A batch offered after the end or after close is
     * released and refused.
     *
     * @param batch the batch; the reader owns it from now on
     */
    public void offer(StagedBatch batch) {
        synchronized (this) {
            if (!closed && !ended) {
                if (!batch.schema().equals(schema)) {
                    batch.close();
                    throw new IllegalArgumentException("a batch of schema " + batch.schema()
                            + " does not belong to a stream of schema " + schema);
                }
                queue.add(batch);
                notifyAll();
                return;
            }
        }
        batch.close();
        throw new IllegalStateException("the reader is " + (ended ? "complete" : "closed")
                + "; no more batches can be added");
    }

    /** Marks the end of the stream: no batch follows those queued. */
    public synchronized void end() {
        ended = true;
        if (abandoned != null) {
            abandoned.settled().set(true); // the source has nothing left to be told
        }
        notifyAll();
    }

    /**
     * Sets the pull source: called (on the consuming thread) whenever the
     * queue is empty, it offers one batch and returns true, or returns false
     * at the end of the stream; closed if the reader closes first.
     *
     * @param source the producer (Python's stream, through a callback)
     */
    public synchronized void setSource(BatchSource source) {
        this.source = source;
        if (source != null && abandoned == null) {
            // A reader Java drops unread must still tell Python's stream it is over,
            // or Python keeps the stream's next batch for the rest of the session.
            abandoned = new Abandon(source, new java.util.concurrent.atomic.AtomicBoolean());
            Reclaimer.register(this, abandoned);
        }
    }

    /** Tells the source it is over if the reader is collected without being closed or ended. */
    private Abandon abandoned;

    /**
     * Closes the source of a reader nobody closed; refers to the source only,
     * never to the reader. The call reaches Python through a callback lane,
     * so it runs on a thread of its own, not the collector's cleaner.
     */
    private record Abandon(BatchSource source, java.util.concurrent.atomic.AtomicBoolean settled)
            implements Runnable {
        @Override
        public void run() {
            if (settled.getAndSet(true)) {
                return;
            }
            Thread t = new Thread(() -> {
                try {
                    source.close();
                } catch (RuntimeException e) {
                    // the producer is gone (session ending): nothing left to tell it
                }
            }, "gatun-abandoned-stream");
            t.setDaemon(true);
            t.start();
        }
    }

    @Override
    public boolean loadNextBatch() throws IOException {
        prepareLoadNextBatch();
        StagedBatch next = take();
        if (next == null) {
            return false;
        }
        try (next) {
            for (ArrowDictionaryBatch d : next.dictionaries()) {
                loadDictionary(d);
            }
            bytesRead += next.batch().computeBodyLength();
            loadRecordBatch(next.batch());
            List<FieldVector> loaded = new ArrayList<>(getVectorSchemaRoot().getFieldVectors());
            for (Dictionary d : getDictionaryVectors().values()) {
                loaded.add(d.getVector());
            }
            ArrowSession.validate(loaded);
        }
        return true;
    }

    private StagedBatch take() throws IOException {
        while (true) {
            BatchSource pull;
            synchronized (this) {
                if (closed) {
                    throw new IOException("the reader is closed");
                }
                if (!queue.isEmpty()) {
                    return queue.poll();
                }
                if (ended) {
                    return null;
                }
                pull = source;
            }
            if (pull == null) {
                throw new IllegalStateException("the stream from Python has no batch queued and no source to "
                        + "pull from");
            }
            BridgeArrowReader outer = PULLING.get();
            PULLING.set(this);
            boolean more;
            try {
                more = pull.next();
            } finally {
                PULLING.set(outer);
            }
            if (!more) {
                end();
            }
        }
    }

    /**
     * The reader that is calling its pull source on this thread: the source
     * (a Python callback) answers by sending the batch in a nested request,
     * which the same thread serves, addressed to "the reader pulling here".
     *
     * @return the reader, or null if none is pulling on this thread
     */
    public static BridgeArrowReader pulling() {
        return PULLING.get();
    }

    @Override
    public long bytesRead() {
        return bytesRead;
    }

    @Override
    protected void closeReadSource() {
        List<StagedBatch> left;
        BatchSource unfinished;
        synchronized (this) {
            closed = true;
            left = new ArrayList<>(queue);
            queue.clear();
            unfinished = ended ? null : source;
            source = null;
            if (abandoned != null) {
                abandoned.settled().set(true); // closed: nothing left for the collector to do
            }
        }
        for (StagedBatch b : left) {
            b.close();
        }
        if (unfinished != null) {
            try {
                unfinished.close();
            } catch (RuntimeException e) {
                // the producer is gone (session ending): nothing left to tell it
            }
        }
    }

    @Override
    protected Schema readSchema() {
        return schema;
    }
}
