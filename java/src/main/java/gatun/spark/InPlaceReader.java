package gatun.spark;

import java.util.List;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.connector.read.InputPartition;
import org.apache.spark.sql.connector.read.PartitionReader;
import org.apache.spark.sql.connector.read.PartitionReaderFactory;
import org.apache.spark.sql.vectorized.ArrowColumnVector;
import org.apache.spark.sql.vectorized.ColumnVector;
import org.apache.spark.sql.vectorized.ColumnarBatch;

/**
 * A task's side of {@link InPlaceTable}: its range of rows of the parked
 * table, leased for the task's length, as one columnar batch over the
 * table's buffers.
 */
final class InPlaceReader implements PartitionReaderFactory {
    private static final long serialVersionUID = 1L;

    /** A task's range of rows, and the columns its query reads. */
    record Range(long table, int start, int end, int[] columns) implements InputPartition {
    }

    @Override
    public boolean supportColumnarReads(InputPartition partition) {
        return true;
    }

    @Override
    public PartitionReader<ColumnarBatch> createColumnarReader(InputPartition partition) {
        return new Reader((Range) partition);
    }

    /** Rows, for a plan that asks for them: the same batch's rows. */
    @Override
    public PartitionReader<InternalRow> createReader(InputPartition partition) {
        Reader batches = new Reader((Range) partition);
        return new PartitionReader<>() {
            private java.util.Iterator<InternalRow> rows;

            @Override
            public boolean next() {
                if (rows == null) {
                    rows = batches.next() ? batches.get().rowIterator() : java.util.Collections.emptyIterator();
                }
                return rows.hasNext();
            }

            @Override
            public InternalRow get() {
                return rows.next();
            }

            @Override
            public void close() {
                batches.close();
            }
        };
    }

    /** One batch: the range's rows of the leased table; closing gives the lease back. */
    private static final class Reader implements PartitionReader<ColumnarBatch> {
        private final Range range;
        private ColumnarBatch batch;
        private boolean leased;
        private boolean served;

        Reader(Range range) {
            this.range = range;
        }

        @Override
        public boolean next() {
            if (served) {
                return false;
            }
            served = true;
            VectorSchemaRoot root = Parked.lease(range.table());
            leased = true;
            List<FieldVector> vectors = root.getFieldVectors();
            int rows = range.end() - range.start();
            ColumnVector[] columns = new ColumnVector[range.columns().length];
            for (int i = 0; i < columns.length; i++) {
                // Always wrapped: Spark closes a batch's vectors once read (closeIfFreeable), and an
                // ArrowColumnVector's close would close the table's vector under later tasks.
                columns[i] = new OffsetColumnVector(new ArrowColumnVector(vectors.get(range.columns()[i])),
                        range.start(), rows);
            }
            batch = new ColumnarBatch(columns, rows);
            return rows > 0;
        }

        @Override
        public ColumnarBatch get() {
            return batch;
        }

        @Override
        public void close() {
            if (leased) {
                leased = false;
                Parked.unlease(range.table());
            }
        }
    }
}
