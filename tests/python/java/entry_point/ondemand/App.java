package ondemand;

import gatun.server.GatunServer;
import java.nio.file.Path;

/**
 * A Java application that starts a gatun server with an entry point, as seed
 * 001's {@code new GatewayServer(OnDemandSimulatorApp)}; Python attaches with
 * the connection file and calls {@code client.entry_point.run(request)}.
 */
public final class App {
    private App() {
    }

    /**
     * @param args the connection file to write
     * @throws Exception if the server cannot start
     */
    public static void main(String[] args) throws Exception {
        GatunServer server = GatunServer.startHosted(new OnDemandApp());
        server.writeConnectionFile(Path.of(args[0]));
        server.awaitClosed(); // until killed
    }
}
