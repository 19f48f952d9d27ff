package gatun.server.reflect;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URI;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Enumeration;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

/**
 * What Python's proxies ask about a Java object so that it behaves like its
 * Python kin, as Py4J's do: a {@code Map} as a mapping, a {@code List} as a
 * sequence, a {@code Set} and an {@code Iterator} as theirs; and what
 * {@code dir()} lists, for an object and for a package.
 */
public final class PythonViews {
    private PythonViews() {
    }

    /**
     * The Python protocol an object follows.
     *
     * @param o any object
     * @return "map", "list", "set", "iterator", "collection", "iterable" or "object"
     */
    public static String kindOf(Object o) {
        if (o instanceof Map) {
            return "map";
        }
        if (o instanceof List) {
            return "list";
        }
        if (o instanceof Set) {
            return "set";
        }
        if (o instanceof Iterator || o instanceof Enumeration) {
            return "iterator";
        }
        if (o instanceof Collection) {
            return "collection";
        }
        if (o instanceof Iterable) {
            return "iterable";
        }
        return "object";
    }

    /**
     * A map's keys, in its iteration order, in one call.
     *
     * @param map the map
     * @return its keys
     */
    public static List<Object> keys(Map<?, ?> map) {
        return new ArrayList<>(map.keySet());
    }

    /**
     * A map's entries as one flat list {@code [k0, v0, k1, v1, ...]}, in one call.
     *
     * @param map the map
     * @return keys and values, alternating
     */
    public static List<Object> items(Map<?, ?> map) {
        List<Object> out = new ArrayList<>(map.size() * 2);
        for (Map.Entry<?, ?> e : map.entrySet()) {
            out.add(e.getKey());
            out.add(e.getValue());
        }
        return out;
    }

    /**
     * The next element of an iterator or enumeration, with whether there was one,
     * in one call.
     *
     * @param it an {@code Iterator} or {@code Enumeration}
     * @return {@code [true, element]}, or {@code [false]} at the end
     */
    public static List<Object> next(Object it) {
        List<Object> out = new ArrayList<>(2);
        if (it instanceof Iterator) {
            Iterator<?> i = (Iterator<?>) it;
            out.add(i.hasNext());
            if (i.hasNext()) {
                out.add(i.next());
            }
        } else if (it instanceof Enumeration) {
            Enumeration<?> e = (Enumeration<?>) it;
            out.add(e.hasMoreElements());
            if (e.hasMoreElements()) {
                out.add(e.nextElement());
            }
        } else {
            throw new IllegalArgumentException(it.getClass().getName() + " is not an Iterator or Enumeration");
        }
        return out;
    }

    /**
     * The public method and field names of a class, sorted.
     *
     * @param c the class (an object's, or a class named through {@code jvm})
     * @param statics only static members (for a class rather than an instance)
     * @return member names
     */
    public static List<String> members(Class<?> c, boolean statics) {
        Set<String> names = new TreeSet<>();
        for (Method m : c.getMethods()) {
            if (!statics || Modifier.isStatic(m.getModifiers())) {
                names.add(m.getName());
            }
        }
        for (Field f : c.getFields()) {
            if (!statics || Modifier.isStatic(f.getModifiers())) {
                names.add(f.getName());
            }
        }
        if (statics) {
            for (Class<?> inner : c.getClasses()) {
                names.add(inner.getSimpleName());
            }
        }
        return new ArrayList<>(names);
    }

    /**
     * What a package holds, as far as the class path can tell: its top-level
     * class names and its immediate sub-packages, sorted, from the JDK's
     * modules and from every jar and directory of the class path (and of the
     * context class loader, when it is a {@code URLClassLoader}).
     *
     * @param pkg a package name such as {@code java.util} (empty for the root)
     * @return simple names
     */
    public static List<String> packageContents(String pkg) {
        String dir = pkg.isEmpty() ? "" : pkg.replace('.', '/') + "/";
        Set<String> names = new TreeSet<>();
        listJdk(dir, names);
        for (Path entry : classPath()) {
            try {
                if (Files.isDirectory(entry)) {
                    listDirectory(entry.resolve(dir), names);
                } else if (Files.isRegularFile(entry)) {
                    listJar(entry, dir, names);
                }
            } catch (IOException | RuntimeException e) {
                // an unreadable entry tells nothing; the others still do
            }
        }
        return new ArrayList<>(names);
    }

    private static Set<Path> classPath() {
        Set<Path> entries = new LinkedHashSet<>();
        for (String p : System.getProperty("java.class.path", "").split(java.io.File.pathSeparator)) {
            if (!p.isEmpty()) {
                entries.add(Path.of(p));
            }
        }
        for (ClassLoader l = Thread.currentThread().getContextClassLoader(); l != null; l = l.getParent()) {
            if (l instanceof URLClassLoader) {
                for (URL u : ((URLClassLoader) l).getURLs()) {
                    try {
                        entries.add(Path.of(u.toURI()));
                    } catch (Exception e) {
                        // not a file URL
                    }
                }
            }
        }
        return entries;
    }

    private static void listJdk(String dir, Set<String> names) {
        try {
            FileSystem jrt = FileSystems.getFileSystem(URI.create("jrt:/"));
            Path modules = jrt.getPath("/modules");
            try (DirectoryStream<Path> ms = Files.newDirectoryStream(modules)) {
                for (Path module : ms) {
                    listDirectory(module.resolve(dir), names);
                }
            }
        } catch (IOException | RuntimeException e) {
            // no runtime image: the class path still tells
        }
    }

    private static void listDirectory(Path dir, Set<String> names) throws IOException {
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (DirectoryStream<Path> children = Files.newDirectoryStream(dir)) {
            for (Path child : children) {
                String name = child.getFileName().toString();
                if (name.endsWith("/")) {
                    name = name.substring(0, name.length() - 1);
                }
                if (Files.isDirectory(child)) {
                    if (!name.equals("META-INF")) {
                        names.add(name);
                    }
                } else {
                    addClass(name, names);
                }
            }
        }
    }

    private static void listJar(Path jar, String dir, Set<String> names) throws IOException {
        try (JarFile jf = new JarFile(jar.toFile())) {
            Enumeration<JarEntry> entries = jf.entries();
            while (entries.hasMoreElements()) {
                String name = entries.nextElement().getName();
                if (!name.startsWith(dir) || name.length() == dir.length() || name.startsWith("META-INF")) {
                    continue;
                }
                String rest = name.substring(dir.length());
                int slash = rest.indexOf('/');
                if (slash > 0) {
                    names.add(rest.substring(0, slash));
                } else {
                    addClass(rest, names);
                }
            }
        }
    }

    private static void addClass(String file, Set<String> names) {
        if (file.endsWith(".class") && file.indexOf('$') < 0 && !file.equals("module-info.class")
                && !file.equals("package-info.class")) {
            names.add(file.substring(0, file.length() - ".class".length()));
        }
    }
}
