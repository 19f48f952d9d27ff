import gatun.server.GatunServer;
import java.nio.file.Path;

/**
 * A Java application that hosts a gatun server, as any JVM can: it starts the
 * server, writes the connection file Python attaches with, and runs until it
 * is killed. Run as a single-file program:
 * {@code java -cp gatun-server.jar HostApp.java <connection-file>}.
 */
public class HostApp {
    public static void main(String[] args) throws Exception {
        GatunServer server = GatunServer.startHosted();
        server.writeConnectionFile(Path.of(args[0]));
        server.awaitClosed(); // until killed
    }
}
