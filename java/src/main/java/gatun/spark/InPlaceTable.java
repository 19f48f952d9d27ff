package gatun.spark;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import org.apache.spark.sql.connector.catalog.SupportsRead;
import org.apache.spark.sql.connector.catalog.TableCapability;
import org.apache.spark.sql.connector.read.Batch;
import org.apache.spark.sql.connector.read.InputPartition;
import org.apache.spark.sql.connector.read.PartitionReaderFactory;
import org.apache.spark.sql.connector.read.Scan;
import org.apache.spark.sql.connector.read.ScanBuilder;
import org.apache.spark.sql.connector.read.Statistics;
import org.apache.spark.sql.connector.read.SupportsPushDownRequiredColumns;
import org.apache.spark.sql.connector.read.SupportsReportStatistics;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.util.CaseInsensitiveStringMap;

/**
 * A parked table as a Spark table (data source V2): the plan reads it as
 * columnar batches of {@code ArrowColumnVector}s over the table's own
 * buffers, so Spark's generated code reads the columns Python sent, only
 * those a query needs, without turning each row into an {@code UnsafeRow}
 * first (an RDD of rows is projected row by row). Its statistics are the
 * table's real size and row count, so the optimiser can broadcast it.
 *
 * <p>The table is reached by id ({@link Parked}); {@link InPlaceScan} drops
 * it once this object, which the DataFrame's plan holds, is unreachable.
 */
final class InPlaceTable implements SupportsRead {
    private final long id;
    private final StructType schema;
    private final long rows;
    private final long bytes;
    private final int partitions;

    /**
     * @param id the parked table
     * @param schema its Spark schema
     * @param rows its rows
     * @param bytes its buffers' size
     * @param partitions ranges of rows to read it in
     */
    InPlaceTable(long id, StructType schema, long rows, long bytes, int partitions) {
        this.id = id;
        this.schema = schema;
        this.rows = rows;
        this.bytes = bytes;
        this.partitions = partitions;
    }

    @Override
    public String name() {
        return "gatun_arrow_" + id;
    }

    @Override
    @SuppressWarnings("deprecation") // Table.schema(): still what Spark 4 reads
    public StructType schema() {
        return schema;
    }

    @Override
    public Set<TableCapability> capabilities() {
        return EnumSet.of(TableCapability.BATCH_READ);
    }

    @Override
    public ScanBuilder newScanBuilder(CaseInsensitiveStringMap options) {
        return new Builder();
    }

    /**
     * Keeps the top-level columns a query reads (nested fields are read
     * whole), by name: {@link InPlaceScan} gives the table unique names.
     */
    private final class Builder implements ScanBuilder, SupportsPushDownRequiredColumns {
        private StructType read = schema;

        @Override
        public void pruneColumns(StructType required) {
            List<StructField> kept = new ArrayList<>();
            for (StructField f : schema.fields()) {
                if (required.getFieldIndex(f.name()).isDefined()) {
                    kept.add(f);
                }
            }
            read = new StructType(kept.toArray(new StructField[0]));
        }

        @Override
        public Scan build() {
            int[] columns = new int[read.fields().length];
            for (int i = 0; i < columns.length; i++) {
                columns[i] = schema.fieldIndex(read.fields()[i].name());
            }
            return new TableScan(read, columns);
        }
    }

    /** One scan: the columns to read, cut into {@link #partitions} ranges of rows. */
    private final class TableScan implements Scan, Batch, SupportsReportStatistics {
        private final StructType read;
        private final int[] columns;

        TableScan(StructType read, int[] columns) {
            this.read = read;
            this.columns = columns;
        }

        @Override
        public StructType readSchema() {
            return read;
        }

        @Override
        public String description() {
            return "gatun Arrow table " + id + " (" + rows + " rows, read in place)";
        }

        @Override
        public Batch toBatch() {
            return this;
        }

        @Override
        public InputPartition[] planInputPartitions() {
            InputPartition[] out = new InputPartition[partitions];
            for (int p = 0; p < partitions; p++) {
                out[p] = new InPlaceReader.Range(id, (int) (rows * p / partitions),
                        (int) (rows * (p + 1) / partitions), columns);
            }
            return out;
        }

        @Override
        public PartitionReaderFactory createReaderFactory() {
            return new InPlaceReader();
        }

        @Override
        public Statistics estimateStatistics() {
            long total = 0;
            for (StructField f : schema.fields()) {
                total += f.dataType().defaultSize();
            }
            long share = 0;
            for (StructField f : read.fields()) {
                share += f.dataType().defaultSize();
            }
            // The columns read, as their share of the row's default width.
            long size = total == 0 ? bytes : (long) (bytes * ((double) share / total));
            return new Statistics() {
                @Override
                public OptionalLong sizeInBytes() {
                    return OptionalLong.of(Math.max(1, size));
                }

                @Override
                public OptionalLong numRows() {
                    return OptionalLong.of(rows);
                }
            };
        }
    }
}
