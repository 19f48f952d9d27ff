package gatun.server;

import com.google.flatbuffers.FlatBufferBuilder;
import gatun.protocol.Hello;
import gatun.protocol.Welcome;
import gatun.server.shm.ControlSegment;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;

/** Python's side of a lane in tests: the handshake, then calls through the slot with the doorbell protocol. */
final class PyLane {
    final SocketChannel ch;
    final ControlSegment seg;
    final int lane;
    final Selector selector;
    long seq;

    PyLane(SocketChannel ch, ControlSegment seg, int lane) throws IOException {
        this.ch = ch;
        this.seg = seg;
        this.lane = lane;
        ch.configureBlocking(false);
        selector = Selector.open();
        ch.register(selector, SelectionKey.OP_READ);
    }

    Wire.Result call(byte[] request) throws IOException {
        return call(request, request.length);
    }

    Wire.Result call(byte[] request, int announcedLen) throws IOException {
        long s = send(request, announcedLen);
        return await(s);
    }

    /** Sends {@code envelope} (a Spill) with req_flags SPILL and waits for the reply. */
    Wire.Result callSpilled(byte[] envelope) throws IOException {
        seg.setRequestFlags(lane, ControlSegment.REQ_FLAG_SPILL);
        try {
            return call(envelope);
        } finally {
            seg.setRequestFlags(lane, 0);
        }
    }

    long send(byte[] request, int announcedLen) throws IOException {
        seg.writeRequest(lane, ByteBuffer.wrap(request));
        seg.setRequestLen(lane, announcedLen);
        long s = ++seq;
        seg.setRequestSeq(lane, s);
        if (seg.takeJvmWaiting(lane)) {
            ch.write(ByteBuffer.wrap(new byte[] {0x01}));
        }
        return s;
    }

    Wire.Result await(long s) throws IOException {
        return Wire.read(awaitRaw(s));
    }

    /** @return the bytes in the response slot once reply {@code s} is there (see resp_flags) */
    ByteBuffer awaitRaw(long s) throws IOException {
        ByteBuffer sink = ByteBuffer.allocate(64);
        while (true) {
            if (seg.responseSeq(lane) == s) {
                break;
            }
            seg.setPyWaiting(lane, 1);
            if (seg.responseSeq(lane) == s) {
                seg.takePyWaiting(lane);
                break;
            }
            selector.select(100);
            selector.selectedKeys().clear();
            sink.clear();
            if (ch.read(sink) < 0) {
                throw new IOException("server closed the lane");
            }
        }
        int len = seg.responseLen(lane);
        return ByteBuffer.wrap(seg.readResponse(lane, len));
    }

    void cancel(long s) throws IOException {
        seg.setCancelSeq(lane, s);
        ch.write(ByteBuffer.wrap(new byte[] {0x02}));
    }

    static Welcome hello(SocketChannel ch, byte[] tok, int lane, int lanes, long sessionId, long version,
                         Path control, long controlSize) throws IOException {
        FlatBufferBuilder b = new FlatBufferBuilder(256);
        int t = Hello.createTokenVector(b, tok);
        int path = b.createString(control.toString());
        Hello.startHello(b);
        Hello.addProtocolVersion(b, version);
        Hello.addToken(b, t);
        Hello.addPid(b, (int) ProcessHandle.current().pid());
        Hello.addLaneIndex(b, lane);
        Hello.addLaneCount(b, lanes);
        Hello.addControlFd(b, -1);
        Hello.addControlPath(b, path);
        Hello.addControlSize(b, controlSize);
        Hello.addSessionId(b, sessionId);
        b.finish(Hello.endHello(b));
        ByteBuffer payload = b.dataBuffer();
        ByteBuffer head = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        head.putInt(payload.remaining()).flip();
        ch.write(new ByteBuffer[] {head, payload});
        return Welcome.getRootAsWelcome(Frames.read(ch));
    }
}
