package gatun.server;

import gatun.server.arrow.ArrowBridge;
import gatun.server.arrow.ArrowSession;
import gatun.server.callbacks.Callbacks;
import gatun.server.dispatch.Dispatcher;
import gatun.server.limits.SessionQuota;
import gatun.server.shm.ControlSegment;
import java.lang.reflect.Method;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A Python client's session: the mapped control segment, the object registry,
 * its Python callbacks and one {@link Lane} per lane socket (the last
 * {@code callbackLanes} of them carry callbacks fired on threads that serve no
 * lane). Any lane's EOF ends the whole session.
 */
public final class Session {
    private final long id;
    private final ControlSegment seg;
    private final ObjectRegistry registry;
    private final Callbacks callbacks;
    private final Dispatcher dispatcher;
    private final int firstCallbackLane;
    private final LinkedBlockingQueue<Lane> freeCallbackLanes = new LinkedBlockingQueue<>();
    private final ArrowSession arrow;
    private final Lane[] lanes;
    private final GatunServer server;
    private final AtomicBoolean ended = new AtomicBoolean();
    /** The control segment's file when Python named one ({@code Hello.control_path}), else null. */
    private final Path controlFile;

    Session(long id, ControlSegment seg, GatunServer server, int callbackLanes, Path controlFile) {
        this.id = id;
        this.controlFile = controlFile;
        this.seg = seg;
        this.server = server;
        this.lanes = new Lane[seg.laneCount()];
        this.firstCallbackLane = lanes.length - callbackLanes;
        this.registry = new ObjectRegistry(new SessionQuota(server.limits()), server.metrics());
        this.arrow = new ArrowSession(seg, ArrowBridge.allocator());
        arrow.account(registry.quota(), server.metrics());
        this.callbacks = new Callbacks(this, registry, server.metrics());
        this.dispatcher = new Dispatcher(registry, server.resolver(), server.policy(), server.metrics(),
                server::liveSessions, arrow, callbacks);
        watchIdle();
    }

    /**
     * Starts watching for the session's idle timeout: once idle for longer,
     * its objects are released at once; its next request is answered with
     * the idle error, after which the session ends ({@link Lane}).
     */
    void watchIdle() {
        registry.quota().onExpire(() -> {
            server.metrics().sessionsIdledOut.increment();
            ServerLog.SESSIONS.log(java.util.logging.Level.FINE, "session {0} idled out",
                    Long.toUnsignedString(id, 16));
            registry.drain();
        });
    }

    /** @return the session's limits and usage */
    SessionQuota quota() {
        return registry.quota();
    }

    /** @return the session's Arrow data plane */
    ArrowSession arrow() {
        return arrow;
    }

    long id() {
        return id;
    }

    /** @return the server this session belongs to */
    GatunServer server() {
        return server;
    }

    /** @return the control segment's file, or null when it came as a descriptor */
    Path controlFile() {
        return controlFile;
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
        boolean callbackLane = index >= firstCallbackLane;
        Lane lane = new Lane(this, index, channel, seg, dispatcher, callbackLane);
        lanes[index] = lane;
        if (callbackLane) {
            freeCallbackLanes.add(lane);
        }
        return lane;
    }

    /** @return whether every lane of the session has connected */
    synchronized boolean allLanesAttached() {
        for (Lane lane : lanes) {
            if (lane == null) {
                return false;
            }
        }
        return true;
    }

    /**
     * Runs a Python callback from a thread that serves no lane of this session:
     * waits for a free callback lane (while every one is busy with a running
     * callback), then runs it there. Fails at once when the session ends.
     */
    public Object callOnCallbackLane(long callbackId, Method m, Object[] args) {
        if (firstCallbackLane >= lanes.length) {
            throw new IllegalStateException("Python callback " + callbackId + " (" + Lane.describe(m)
                    + ") was called on thread " + Thread.currentThread().getName() + ", which is not serving a "
                    + "Python call, and this session has no callback lanes (connect(callback_lanes=0))");
        }
        Lane lane = null;
        boolean interrupted = false;
        while (lane == null) {
            if (ended.get()) {
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
                throw new IllegalStateException("Python callback " + callbackId + " (" + Lane.describe(m)
                        + ") cannot run: the Python session that registered it has ended");
            }
            try {
                lane = freeCallbackLanes.poll(100, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                interrupted = true; // re-asserted below: a callback is not cancelled half-way
            }
        }
        try {
            return lane.callOnCallbackLane(callbackId, m, args);
        } finally {
            freeCallbackLanes.add(lane);
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Ends the session: stops every lane, drops the registry (idempotent). */
    void end(String reason) {
        end(reason, (byte) 0);
    }

    /**
     * Ends the session, telling Python why on each lane's socket first.
     *
     * @param goodbye 0, or a {@code Doorbell.GOODBYE_*} byte
     */
    void end(String reason, byte goodbye) {
        if (!ended.compareAndSet(false, true)) {
            return;
        }
        ServerLog.SESSIONS.log(java.util.logging.Level.FINE, "session {0} ended: {1}",
                new Object[] {Long.toUnsignedString(id, 16), reason});
        Lane[] snapshot;
        synchronized (this) {
            snapshot = lanes.clone();
        }
        for (Lane l : snapshot) {
            if (l != null) {
                l.stop(goodbye);
            }
        }
        // Arrow objects Python referenced are not closed: Java code may still use
        // them (a static field, another thread); they give their memory back
        // when closed or unreachable (gatun.server.arrow.Reclaimer).
        registry.quota().close();
        registry.drain();
        arrow.close();
        server.sessionEnded(this, reason);
    }

    public boolean ended() {
        return ended.get();
    }
}
