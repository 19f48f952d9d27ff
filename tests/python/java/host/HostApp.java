import gatun.server.GatunServer;
import java.nio.file.*;
import java.security.SecureRandom;
import java.util.HexFormat;
public class HostApp {
    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("gatun-host");
        byte[] token = new byte[16]; new SecureRandom().nextBytes(token);
        Path sock = dir.resolve("s");
        new GatunServer(sock, token, false).start();
        Path tmp = Path.of(args[0] + ".tmp");
        Files.writeString(tmp, "socket=" + sock + "\ntoken=" + HexFormat.of().formatHex(token) + "\n");
        Files.move(tmp, Path.of(args[0]), StandardCopyOption.ATOMIC_MOVE);
        Thread.currentThread().join();
    }
}
