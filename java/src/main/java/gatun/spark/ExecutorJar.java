package gatun.spark;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import org.apache.spark.SparkContext;

/**
 * Makes {@link PartitionBytes} loadable on a context's executors: a jar of
 * that one class (a few KB, written once per JVM) is added to each context
 * with {@code addJar}, and executors fetch it with their next task. The
 * server jar itself (5 MB, with Arrow) stays on the driver.
 */
final class ExecutorJar {
    private static final Set<String> SHIPPED = new HashSet<>();
    private static Path jar;

    private ExecutorJar() {
    }

    /**
     * Adds the jar to {@code sc} unless it was added already.
     *
     * @param sc the context whose executors need {@link PartitionBytes}
     */
    static synchronized void ship(SparkContext sc) {
        String key = SparkContexts.key(sc);
        if (SHIPPED.contains(key)) {
            return;
        }
        sc.addJar(written().toUri().toString());
        SHIPPED.add(key);
    }

    private static Path written() {
        if (jar != null) {
            return jar;
        }
        Class<?> cls = PartitionBytes.class;
        String entry = cls.getName().replace('.', '/') + ".class";
        try {
            Path dir = Files.createTempDirectory("gatun-spark-");
            Path file = dir.resolve("gatun-spark-executor.jar");
            try (InputStream in = cls.getClassLoader().getResourceAsStream(entry);
                    OutputStream out = Files.newOutputStream(file);
                    JarOutputStream zip = new JarOutputStream(out)) {
                if (in == null) {
                    throw new IOException("the class file " + entry + " is not on the class path");
                }
                zip.putNextEntry(new JarEntry(entry));
                in.transferTo(zip);
                zip.closeEntry();
            }
            dir.toFile().deleteOnExit(); // registered first: deleted last, once empty
            file.toFile().deleteOnExit();
            jar = file;
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException("gatun.spark: writing the executors' jar failed: " + e.getMessage(), e);
        }
    }
}
