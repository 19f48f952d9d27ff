package gatun.server;

import gatun.server.arrow.ArrowBridge;
import gatun.server.arrow.ArrowSession;
import gatun.server.shm.ControlSegment;
import java.nio.channels.SocketChannel;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A Python client's session: the mapped control segment, the object registry
 * and one {@link Lane} per lane socket. Any lane's EOF ends the whole session.
 */
final class Session {
    private final long id;
    private final ControlSegment seg;
    private final ObjectRegistry registry = new ObjectRegistry();
    private final Dispatcher dispatcher;
    private final ArrowSession arrow;
    private final Lane[] lanes;
    private final GatunServer server;
    private final AtomicBoolean ended = new AtomicBoolean();

    Session(long id, ControlSegment seg, GatunServer server) {
        this.id = id;
        this.seg = seg;
        this.server = server;
        this.lanes = new Lane[seg.laneCount()];
        this.arrow = new ArrowSession(seg, ArrowBridge.allocator());
        this.dispatcher = new Dispatcher(registry, server.resolver(), server.policy(), server.metrics(),
                server::liveSessions, arrow);
    }

    /** @return the session's Arrow data plane */
    ArrowSession arrow() {
        return arrow;
    }

    long id() {
        return id;
    }

    int laneCount() {
        return lanes.length;
    }

    /**
     * Attaches a lane socket; the caller sends Welcome and then calls {@link Lane#start()}.
     *
     * @return the lane, or null if the index is out of range or already attached
     */
    synchronized Lane attach(int index, SocketChannel channel) {
        if (ended.get() || index < 0 || index >= lanes.length || lanes[index] != null) {
            return null;
        }
        Lane lane = new Lane(this, index, channel, seg, dispatcher);
        lanes[index] = lane;
        return lane;
    }

    /** Ends the session: stops every lane, drops the registry (idempotent). */
    void end(String reason) {
        if (!ended.compareAndSet(false, true)) {
            return;
        }
        Lane[] snapshot;
        synchronized (this) {
            snapshot = lanes.clone();
        }
        for (Lane l : snapshot) {
            if (l != null) {
                l.stop();
            }
        }
        closeArrowObjects(registry.drain());
        arrow.close();
        server.sessionEnded(this, reason);
    }

    /**
     * Closes the Arrow objects Python still referenced (roots, vectors, readers),
     * so their regions' Release notices are queued (and flushed if Python is still there).
     */
    static void closeArrowObjects(java.util.List<Object> objects) {
        for (Object o : objects) {
            if (o instanceof AutoCloseable && o.getClass().getName().startsWith("org.apache.arrow.")) {
                try {
                    ((AutoCloseable) o).close();
                } catch (Exception | Error e) {
                    System.err.println("gatun: closing " + o.getClass().getName() + " at session end failed: " + e);
                }
            }
        }
    }

    boolean ended() {
        return ended.get();
    }
}
