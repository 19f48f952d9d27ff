package gatun.spark;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import org.apache.spark.SparkContext;

/**
 * Makes the classes cluster-mode tasks run loadable on a context's executors
 * ({@link #CLASSES}): a jar of those classes alone (tens of KB, written once
 * per JVM) is added to each context with {@code addJar}, and executors fetch
 * it with their next task. The server jar itself (5 MB, with Arrow) stays on
 * the driver; executors have Spark's Arrow Java.
 */
final class ExecutorJar {
    /**
     * What executors run, with every class of gatun's these refer to (their
     * nested classes go with them); a test checks that nothing else of
     * gatun's is referred to.
     */
    static final List<Class<?>> CLASSES = List.of(PartitionBytes.class, ColumnarMessages.class,
            ColumnarFill.class, ColumnCopier.class, OffsetColumnVector.class, CachedBatches.class,
            CachedVarWidth.class, SparkSchemas.class, IpcMessage.class, PartitionMessages.class);
    private static final Set<String> SHIPPED = new HashSet<>();
    private static Path jar;

    private ExecutorJar() {
    }

    /**
     * Adds the jar to {@code sc} unless it was added already.
     *
     * @param sc the context whose executors run the tasks
     */
    static synchronized void ship(SparkContext sc) {
        String key = SparkContexts.key(sc);
        if (SHIPPED.contains(key)) {
            return;
        }
        sc.addJar(written().toUri().toString());
        SHIPPED.add(key);
    }

    /** @return the jar, written on first use */
    static Path written() {
        if (jar != null) {
            return jar;
        }
        try {
            Path dir = Files.createTempDirectory("gatun-spark-");
            Path file = dir.resolve("gatun-spark-executor.jar");
            try (OutputStream out = Files.newOutputStream(file); JarOutputStream zip = new JarOutputStream(out)) {
                for (Class<?> top : CLASSES) {
                    for (Class<?> cls : top.getNestMembers()) { // the class itself, its nested and anonymous ones
                        add(zip, cls);
                    }
                }
            }
            dir.toFile().deleteOnExit(); // registered first: deleted last, once empty
            file.toFile().deleteOnExit();
            jar = file;
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException("gatun.spark: writing the executors' jar failed: " + e.getMessage(), e);
        }
    }

    private static void add(JarOutputStream zip, Class<?> cls) throws IOException {
        String entry = cls.getName().replace('.', '/') + ".class";
        try (InputStream in = cls.getClassLoader().getResourceAsStream(entry)) {
            if (in == null) {
                throw new IOException("the class file " + entry + " is not on the class path");
            }
            zip.putNextEntry(new JarEntry(entry));
            in.transferTo(zip);
            zip.closeEntry();
        }
    }
}
