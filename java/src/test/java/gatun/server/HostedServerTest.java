package gatun.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import gatun.protocol.ProtocolVersion;
import gatun.protocol.Welcome;
import gatun.server.shm.ControlSegment;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The server hosted inside a JVM that is not Python's parent, with the Java-side test client. */
@Timeout(60)
class HostedServerTest {
    private static final int LANES = 1;
    private static final int SLOT = 4096;
    private static final long SIZE = ControlSegment.requiredSize(LANES, SLOT);
    private Path dir;

    @BeforeEach
    void setUp() throws IOException {
        dir = Files.createTempDirectory("gatun-hosted", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
    }

    @AfterEach
    void tearDown() throws IOException {
        try (var entries = Files.walk(dir)) {
            for (Path p : entries.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** A Python-like session: its own control segment file, lane 0 connected. */
    private static final class Client implements AutoCloseable {
        final SocketChannel ch;
        final PyLane lane;
        final Welcome welcome;

        Client(GatunServer server, Path control) throws IOException {
            try (RandomAccessFile f = new RandomAccessFile(control.toFile(), "rw")) {
                f.setLength(SIZE);
            }
            ControlSegment seg = ControlSegment.map(control, SIZE);
            seg.writeHeader(LANES, SLOT, (int) ProcessHandle.current().pid(), 0);
            ch = SocketChannel.open(UnixDomainSocketAddress.of(server.socketPath()));
            byte[] token = HexFormat.of().parseHex(server.tokenHex());
            welcome = PyLane.hello(ch, token, 0, LANES, 0, ProtocolVersion.Current, control, SIZE);
            assertNull(welcome.error());
            lane = new PyLane(ch, seg.validate(LANES), 0);
        }

        Wire.Result call(Wire.Req req) throws IOException {
            return lane.call(req.bytes());
        }

        @Override
        public void close() throws IOException {
            ch.close();
        }
    }

    private static void await(BooleanSupplier condition) throws InterruptedException {
        while (!condition.getAsBoolean()) {
            Thread.sleep(5); // polling a condition; the class's timeout bounds it
        }
    }

    @Test
    void startHostedMakesAPrivateDirectoryAndCloseRemovesIt() throws Exception {
        GatunServer server = GatunServer.startHosted();
        Path socket = server.socketPath();
        Path hostDir = socket.getParent();
        try {
            assertTrue(Files.exists(socket));
            assertEquals(Path.of(System.getProperty("java.io.tmpdir")).toAbsolutePath(),
                    hostDir.getParent().toAbsolutePath());
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(hostDir)));
            assertTrue(server.tokenHex().matches("[0-9a-f]{32}"), server.tokenHex());
            try (GatunServer second = GatunServer.startHosted()) {
                assertNotEquals(second.tokenHex(), server.tokenHex()); // random
                assertNotEquals(second.socketPath().getParent(), hostDir);
            }

            try (Client a = new Client(server, dir.resolve("a")); Client b = new Client(server, dir.resolve("b"))) {
                assertNotEquals(a.welcome.sessionId(), b.welcome.sessionId());
                assertEquals(2, server.liveSessions());
                // Isolation: an object of session a is unknown in session b.
                long list = a.call(Wire.create("java.util.ArrayList")).id();
                assertEquals(0L, a.call(Wire.call(list, "size")).value);
                Wire.Result r = b.call(Wire.call(list, "size"));
                assertEquals("gatun.server.UnknownObjectException", r.errorClass, r::toString);
                assertTrue(r.errorMessage.contains(Long.toString(list)), r.errorMessage);

                // Ending session a (its socket's EOF) leaves b and the server serving.
                a.ch.close();
                await(() -> server.liveSessions() == 1);
                assertEquals(3L, b.call(Wire.callStatic("java.lang.Math", "max", 2, 3)).value);
                try (Client c = new Client(server, dir.resolve("c"))) {
                    assertEquals(2, server.liveSessions());
                    assertEquals(5L, c.call(Wire.callStatic("java.lang.Math", "max", 5, 4)).value);
                }

                // close() ends every session (b sees EOF), removes the socket and the directory.
                server.close();
                assertEquals(0, server.liveSessions());
                assertFalse(Files.exists(socket));
                assertFalse(Files.exists(hostDir));
                // EOF while waiting, or a broken pipe if the ring byte is written after the close
                assertThrows(IOException.class, () -> b.call(Wire.callStatic("java.lang.Math", "max", 2, 3)));
            }
            server.awaitClosed(); // returns at once after close()
            server.close(); // idempotent
        } finally {
            server.close();
        }
    }

    @Test
    void startHostedWithAChosenPathAndToken() throws Exception {
        String token = "00112233445566778899AABBCCDDEEFF";
        Path socket = dir.resolve("chosen.sock");
        try (GatunServer server = GatunServer.startHosted(socket.toString(), token)) {
            assertEquals(socket, server.socketPath());
            assertEquals(token.toLowerCase(java.util.Locale.ROOT), server.tokenHex());
            try (Client c = new Client(server, dir.resolve("control"))) {
                assertEquals(8L, c.call(Wire.callStatic("java.lang.Math", "max", 8, 1)).value);
            }
            // The socket is in use: a second server on it is refused, naming the path.
            FileAlreadyExistsException e = assertThrows(FileAlreadyExistsException.class,
                    () -> GatunServer.startHosted(socket.toString(), token));
            assertTrue(e.getMessage().contains(socket.toString()), e.getMessage());
        }
        assertFalse(Files.exists(socket));
        assertTrue(Files.isDirectory(dir), "the caller's directory must stay");
    }

    @Test
    void badArgumentsAreNamed() throws Exception {
        String sock = dir.resolve("s").toString();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> GatunServer.startHosted(sock, "abc"));
        assertEquals("tokenHex must be 32 hexadecimal characters (16 bytes), got 3 characters", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> GatunServer.startHosted(sock, "zz112233445566778899aabbccddeeff"));
        assertEquals("tokenHex must be 32 hexadecimal characters (16 bytes), got 32 characters with non-hex ones",
                e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> GatunServer.startHosted(sock, null));
        e = assertThrows(IllegalArgumentException.class,
                () -> GatunServer.startHosted(" ", "00112233445566778899aabbccddeeff"));
        assertTrue(e.getMessage().startsWith("socketPath must name a file to create"), e.getMessage());

        Path file = Files.createFile(dir.resolve("plain-file"));
        NotDirectoryException nd = assertThrows(NotDirectoryException.class,
                () -> GatunServer.startHosted(file.resolve("s").toString(), "00112233445566778899aabbccddeeff"));
        assertTrue(nd.getMessage().contains("its parent " + file + " is not a directory"), nd.getMessage());
        nd = assertThrows(NotDirectoryException.class, () -> GatunServer.startHosted(
                dir.resolve("missing/s").toString(), "00112233445566778899aabbccddeeff"));
        assertTrue(nd.getMessage().contains("missing"), nd.getMessage());
        FileAlreadyExistsException fe = assertThrows(FileAlreadyExistsException.class,
                () -> GatunServer.startHosted(file.toString(), "00112233445566778899aabbccddeeff"));
        assertTrue(fe.getMessage().contains(file.toString()), fe.getMessage());
        assertTrue(Files.isRegularFile(file), "a refused start must not touch an existing file");
    }

    @Test
    void connectionFileIsPrivateAndNamesSocketAndToken() throws Exception {
        try (GatunServer server = GatunServer.startHosted()) {
            Path file = dir.resolve("gatun.conn");
            Files.writeString(file, "stale"); // replaced
            assertEquals(file, server.writeConnectionFile(file));
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
            assertEquals(List.of("socket=" + server.socketPath().toAbsolutePath(), "token=" + server.tokenHex()),
                    Files.readAllLines(file, StandardCharsets.UTF_8));
            try (var left = Files.list(dir)) {
                assertEquals(List.of(file), left.toList(), "a temporary file was left behind");
            }
        }
    }

    @Test
    void aDeadPythonsSegmentDirectoryIsRemovedWhenItsSessionEnds() throws Exception {
        Process gone = new ProcessBuilder("true").start();
        assertTrue(gone.waitFor(10, TimeUnit.SECONDS));
        Path orphan = Files.createDirectory(dir.resolve("gatun-py-" + gone.pid() + "-0a1b2c"));
        Files.writeString(orphan.resolve("payload-1"), "left by a Python killed with -9");
        Path alive = Files.createDirectory(dir.resolve("gatun-py-" + ProcessHandle.current().pid() + "-3d4e5f"));
        Path other = Files.createDirectory(dir.resolve("not-gatun-" + gone.pid()));
        try (GatunServer server = GatunServer.startHosted(dir.resolve("s").toString(),
                "00112233445566778899aabbccddeeff")) {
            for (Path d : List.of(orphan, alive, other)) {
                try (Client c = new Client(server, d.resolve("control"))) {
                    assertEquals(1L, c.call(Wire.callStatic("java.lang.Math", "abs", -1)).value);
                }
                await(() -> server.liveSessions() == 0);
            }
            assertFalse(Files.exists(orphan), "the dead Python's directory is still there");
            assertTrue(Files.exists(alive.resolve("control")), "a live Python's files were removed");
            assertTrue(Files.exists(other.resolve("control")), "a directory not named gatun-py-* was touched");
        }
    }

    @Test
    void shutdownHookClosesTheServerWhenTheJvmExits() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, gatun.server.arrow.ArrowAccess.REQUIRED_FLAG, "-cp", System.getProperty("java.class.path"),
                "-Djava.io.tmpdir=" + dir, HostedMain.class.getName())
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        try {
            String line = new String(p.getInputStream().readNBytes(4096), StandardCharsets.UTF_8).strip();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), line);
            Path socket = Path.of(line);
            assertTrue(socket.startsWith(dir), line);
            assertFalse(Files.exists(socket), "the socket outlived the JVM");
            assertFalse(Files.exists(socket.getParent()), "the private directory outlived the JVM");
        } finally {
            p.destroyForcibly();
        }
    }

    /** A JVM whose main starts a hosted server and returns: the server neither keeps it alive nor outlives it. */
    static final class HostedMain {
        public static void main(String[] args) throws IOException {
            GatunServer server = GatunServer.startHosted();
            System.out.println(server.socketPath());
            System.out.flush();
            // main returns; the server's threads are daemons, so the JVM exits and the hook runs
        }
    }
}
