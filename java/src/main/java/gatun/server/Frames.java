package gatun.server;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;

/**
 * Handshake framing on a lane socket: a little-endian u32 length, then that many
 * FlatBuffers bytes (at most {@link #MAX_FRAME}).
 */
final class Frames {
    /** Largest handshake frame accepted or sent. */
    static final int MAX_FRAME = 64 * 1024;

    private Frames() {
    }

    /**
     * Reads one frame.
     *
     * @return the payload, position 0, little-endian
     * @throws IOException on EOF, an I/O error or a length outside 1..64 KiB
     */
    static ByteBuffer read(SocketChannel ch) throws IOException {
        ByteBuffer head = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, head);
        long len = head.getInt(0) & 0xFFFF_FFFFL;
        if (len == 0 || len > MAX_FRAME) {
            throw new IOException("handshake frame of " + len + " bytes is outside 1.." + MAX_FRAME);
        }
        ByteBuffer body = ByteBuffer.allocate((int) len).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, body);
        body.flip();
        return body;
    }

    /** Writes one frame holding {@code payload}'s remaining bytes (blocking channel). */
    static void write(SocketChannel ch, ByteBuffer payload) throws IOException {
        writeFully(ch, frame(payload));
    }

    /** @return the length prefix and {@code payload}'s remaining bytes, ready to write */
    static ByteBuffer frame(ByteBuffer payload) throws IOException {
        int len = payload.remaining();
        if (len > MAX_FRAME) {
            throw new IOException("handshake frame of " + len + " bytes exceeds " + MAX_FRAME);
        }
        ByteBuffer out = ByteBuffer.allocate(4 + len).order(ByteOrder.LITTLE_ENDIAN);
        out.putInt(len).put(payload.duplicate()).flip();
        return out;
    }

    /** Writes all of {@code out} to a blocking channel. */
    static void writeFully(SocketChannel ch, ByteBuffer out) throws IOException {
        while (out.hasRemaining()) {
            ch.write(out);
        }
    }

    private static void readFully(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new EOFException("peer closed the socket during the handshake");
            }
        }
    }
}
