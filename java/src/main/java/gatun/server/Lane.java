package gatun.server;

import com.google.flatbuffers.FlatBufferBuilder;
import gatun.server.arrow.MessageSpill;
import gatun.server.arrow.RegionLedger;
import gatun.server.callbacks.CallbackMessages;
import gatun.server.dispatch.DispatchScratch;
import gatun.server.dispatch.Dispatcher;
import gatun.server.dispatch.ResponseJournal;
import gatun.server.shm.ControlSegment;
import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

/**
 * One lane of a session: a Unix socket, a slot pair in the control segment,
 * and the threads that serve it.
 *
 * <p>The <b>I/O thread</b> owns the socket's read side and blocks reading it:
 * a RING byte (0x01) unparks the lane's current owner, a CANCEL byte (0x02)
 * interrupts the worker if it is running user code for the request in
 * {@code cancel_seq}, and EOF ends the session. It is never interrupted.
 *
 * <p>A <b>call lane</b> has a <b>worker thread</b>: it waits for
 * {@code req_seq} to move (spinning about 100 µs while it recently had work,
 * then the doorbell wait of SHM_LAYOUT.md: {@code jvm_waiting = 1}, re-check,
 * park), copies the request out of the slot, dispatches it, writes the
 * response and notifies Python ({@code resp_seq}, then CAS
 * {@code py_waiting} 1 -&gt; 0 and, only if that succeeded, one RING byte on
 * the socket). Python numbers the messages; Java echoes the number.
 *
 * <p><b>Callbacks.</b> When user code running on the worker calls a Python
 * callback's proxy, {@link #callPython} publishes a callback call in the
 * response slot (with {@code resp_flags} = CALLBACK) instead of the answer,
 * and runs a nested dispatch loop: each message Python sends next is either
 * the callback's reply, which returns from the proxy, or a call the Python
 * function makes, which is served right there (and may fire further
 * callbacks, one frame deeper). A <b>callback lane</b> has no worker: a Java
 * thread that is not serving a Python call takes a free callback lane from the
 * session, becomes its owner and runs the same loop; there Java numbers the
 * messages and Python echoes. Its RING bytes are written by a small
 * <b>ringer thread</b>, because the owner is an arbitrary user thread that
 * might be interrupted, and an interrupt during a channel write closes the
 * channel.
 *
 * <p><b>Interrupt discipline.</b> The worker writes to the socket itself, and an
 * interrupt that reaches a blocking channel operation closes the channel
 * (java.nio InterruptibleChannel). So a cancel may interrupt the worker only
 * while the "running user code" sequence is set; setting, clearing and
 * interrupting all happen under one lock, and the worker clears its interrupt
 * status with {@link Thread#interrupted()} right after user code returns (and
 * before it waits for a callback's reply). No interrupt can therefore be
 * pending when the worker touches the socket, and a socket is never closed by
 * an interrupt.
 */
public final class Lane {
    private static final long HOT_NANOS = 2_000_000;
    /** Deepest nesting of callbacks on one lane (a Python function calling Java calling Python ...). */
    static final int MAX_CALLBACK_DEPTH = 64;

    /** The lane whose requests the current thread is serving, if any. */
    private static final ThreadLocal<Lane> CURRENT = new ThreadLocal<>();

    private final Session session;
    private final int index;
    private final SocketChannel channel;
    private final ControlSegment seg;
    private final Dispatcher dispatcher;
    private final boolean callbackLane;
    private final Thread io;
    /** Call lanes: the worker; callback lanes: null. */
    private final Thread worker;
    /** Callback lanes: writes RING bytes for the owner; call lanes: null. */
    private final Thread ringer;
    private final Doorbell doorbell;
    /** What an interrupt during a doorbell wait means; one object, so waiting allocates nothing. */
    private final Runnable onInterruptedWait;
    private volatile boolean stopped;
    /** The thread the I/O thread unparks: the worker, or a callback lane's current owner. */
    private volatile Thread owner;

    private final Object userCode = new Object();
    /** Sequence whose user code is running, 0 when none; guarded by {@link #userCode}. */
    private long runningSeq;
    /**
     * The last sequence Python cancelled (0: none). Kept even when the cancel
     * came before the worker picked the request up, or between the items of a
     * batch, where there is no user code to interrupt: the request then starts
     * interrupted, and a batch skips the items it has not run yet.
     */
    private volatile long cancelledSeq;

    // Touched only by the lane's owner thread.
    /** The last req_seq seen. */
    private long reqSeq;
    /** The last resp_seq published. */
    private long respSeq;
    /** Callback frames in use (0 = serving a plain request). */
    private int depth;
    /** A builder and a request buffer per nesting level, made on first use. */
    private final ArrayList<Frame> frames = new ArrayList<>();
    /** Callback lanes: the owner was interrupted while waiting for Python. */
    private boolean interruptedWhileWaiting;

    /**
     * Per nesting level: where responses are built and requests copied to, and
     * what the dispatcher reuses between the requests served at that level.
     */
    /** A frame's response builder above this capacity is not kept for the next request. */
    private static final int KEEP_BUILDER_BYTES = 8 << 20;

    private static final class Frame {
        /** Replaced by a small one after a response that grew it past {@link #KEEP_BUILDER_BYTES}. */
        FlatBufferBuilder b = new FlatBufferBuilder(4096);
        final byte[] request;
        /** A view of {@link #request}, reset for each request instead of wrapping anew. */
        private final ByteBuffer requestView;
        final DispatchScratch scratch;

        Frame(int slotSize, DispatchScratch scratch) {
            request = new byte[slotSize];
            requestView = ByteBuffer.wrap(request);
            this.scratch = scratch;
        }

        /** Lets go of a builder grown by a spilled response (hundreds of MB, once). */
        void trimBuilder() {
            if (b.dataBuffer().capacity() > KEEP_BUILDER_BYTES) {
                b = new FlatBufferBuilder(4096);
            }
        }

        /** @return the first {@code len} bytes of {@link #request}, from position 0 */
        ByteBuffer request(int len) {
            return requestView.clear().limit(len);
        }
    }

    Lane(Session session, int index, SocketChannel channel, ControlSegment seg, Dispatcher dispatcher,
         boolean callbackLane) {
        this.session = session;
        this.index = index;
        this.channel = channel;
        this.seg = seg;
        this.dispatcher = dispatcher;
        this.callbackLane = callbackLane;
        this.doorbell = new Doorbell(seg, index, channel, session::end);
        this.onInterruptedWait = () -> {
            if (callbackLane) {
                // A user thread waiting for Python: remember, re-assert when the callback returns.
                interruptedWhileWaiting = true;
            }
        };
        String prefix = "gatun-s" + Long.toHexString(session.id()) + "-lane" + index;
        this.io = new Thread(this::runIo, prefix + "-io");
        io.setDaemon(true);
        if (callbackLane) {
            worker = null;
            ringer = new Thread(doorbell::runRinger, prefix + "-ringer");
            doorbell.useRinger(ringer);
            ringer.setDaemon(true);
        } else {
            worker = new Thread(this::runWorker, prefix + "-worker");
            worker.setDaemon(true);
            ringer = null;
            owner = worker;
        }
    }

    /**
     * This thread's Linux thread id, from {@code /proc/thread-self}
     * ({@code "<pid>/task/<tid>"}); 0 where there is none. Python moves the
     * worker off a core the two share (SHM_LAYOUT.md, "Spinning").
     */
    static int linuxThreadId() {
        try {
            java.nio.file.Path self = java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/thread-self"));
            return Integer.parseInt(self.getFileName().toString());
        } catch (java.io.IOException | RuntimeException e) {
            return 0;
        }
    }

    void start() {
        if (worker != null) {
            worker.start();
        } else {
            ringer.start();
        }
        io.start();
    }

    /** @return true for a lane that carries callbacks fired on threads not serving a call */
    boolean isCallbackLane() {
        return callbackLane;
    }

    /**
     * Stops the threads and closes the socket (idempotent); an owner waiting for Python fails.
     *
     * @param goodbye 0, or the byte that tells Python why before the socket
     *     closes ({@link Doorbell#GOODBYE_STOPPED}, {@link Doorbell#GOODBYE_IDLE}),
     *     so its calls say so instead of "the JVM exited"
     */
    void stop(byte goodbye) {
        stopped = true;
        LockSupport.unpark(owner);
        doorbell.stop();
        synchronized (userCode) {
            if (runningSeq != 0 && worker != null) {
                worker.interrupt();
            }
        }
        if (goodbye != 0 && channel.isOpen()) {
            try {
                channel.write(ByteBuffer.wrap(new byte[] {goodbye}));
            } catch (IOException e) {
                // Python is gone already: nobody to tell
            }
        }
        try {
            channel.close();
        } catch (IOException e) {
            // already closed
        }
    }

    /**
     * @param s a session
     * @return the lane of {@code s} whose request the current thread is serving, or null
     */
    public static Lane servingFor(Session s) {
        Lane l = CURRENT.get();
        return l != null && l.session == s ? l : null;
    }

    /** @return the session whose request the current thread is serving, or null */
    static Session currentSession() {
        Lane l = CURRENT.get();
        return l != null ? l.session : null;
    }

    /**
     * True when Python cancelled the request the current thread is serving
     * (Ctrl-C, {@code client.cancel(request_id)}, a cancelled asyncio task).
     * It stays true after the interrupt was consumed (an
     * {@code InterruptedException} caught by user code), so long-running code
     * and a batch between its items can still see it.
     *
     * @return false on a thread that serves no call lane
     */
    public static boolean currentRequestCancelled() {
        Lane l = CURRENT.get();
        return l != null && !l.callbackLane && l.reqSeq != 0 && l.cancelledSeq == l.reqSeq;
    }

    // ----------------------------------------------------------------- I/O

    private void runIo() {
        ByteBuffer in = ByteBuffer.allocate(64);
        try {
            while (!stopped) {
                in.clear();
                int n = channel.read(in);
                if (n < 0) {
                    break;
                }
                for (int i = 0; i < n; i++) {
                    byte b = in.get(i);
                    if (b == Doorbell.RING) {
                        LockSupport.unpark(owner);
                    } else if (b == Doorbell.CANCEL) {
                        cancel(seg.cancelSeq(index));
                    }
                    // other bytes are ignored: the sequence counters are the truth
                }
            }
        } catch (IOException e) {
            // peer gone or session stopped
        } finally {
            session.end("lane " + index + " closed");
        }
    }

    private void cancel(long seq) {
        synchronized (userCode) {
            if (worker != null) {
                cancelledSeq = seq;
            }
            if (worker != null && runningSeq != 0 && runningSeq == seq) {
                worker.interrupt();
            }
        }
    }

    // -------------------------------------------------------------- worker

    private void runWorker() {
        CURRENT.set(this);
        seg.setWorkerTid(index, linuxThreadId());
        // The last request answered: one may already wait in the slot.
        reqSeq = seg.responseSeq(index);
        respSeq = reqSeq;
        long lastWork = 0;
        ResponseJournal journal = ResponseJournal.current();
        while (!stopped) {
            if (!awaitRequest(System.nanoTime() - lastWork < HOT_NANOS)) {
                break; // stopped
            }
            Frame f = frame(0);
            try {
                serve(f);
            } catch (Throwable t) {
                ServerLog.LOG.warning("lane " + index + ": request " + reqSeq + " failed outside dispatch: " + t);
                if (respSeq != reqSeq) {
                    ResponseJournal.current().undo(0); // nothing built for this request reached Python
                    f.b.clear();
                    publish(f.b, dispatcher.errorResponse(f.b, t), 0, 0);
                }
            }
            lastWork = System.nanoTime();
            if (session.quota().expired()) {
                // Python has its answer (the idle error); the session ends now.
                session.end("idle for longer than its idle timeout", Doorbell.GOODBYE_IDLE);
                break;
            }
        }
        journal.abandon();
    }

    /**
     * Waits until req_seq moves past the last one seen and records it.
     *
     * @return false if the lane stopped first
     */
    private boolean awaitRequest(boolean hot) {
        long last = reqSeq;
        long s = doorbell.awaitRequest(last, hot, onInterruptedWait);
        if (s == last) {
            return false;
        }
        reqSeq = s;
        return true;
    }

    private Frame frame(int level) {
        while (frames.size() <= level) {
            frames.add(new Frame(seg.slotSize(), dispatcher.newScratch()));
        }
        return frames.get(level);
    }

    /** Copies the request out, dispatches it and publishes its response. */
    private void serve(Frame f) {
        int slot = seg.slotSize();
        int len = seg.requestLen(index);
        FlatBufferBuilder b = f.b;
        b.clear();
        try {
            session.arrow().drainPeerReleases(); // Python's releases of Java's regions
        } catch (RuntimeException e) {
            ServerLog.LOG.warning("lane " + index + ": draining release notices failed: " + e);
        }
        long mark = ResponseJournal.current().mark();
        int root;
        if (len < 0 || len > slot) {
            root = dispatcher.errorResponse(b, new ProtocolException("request of " + Integer.toUnsignedString(len)
                    + " bytes exceeds the lane slot of " + slot + " bytes"));
        } else {
            seg.copyRequest(index, f.request, len);
            ByteBuffer req = f.request(len);
            root = (seg.requestFlags(index) & ControlSegment.REQ_FLAG_SPILL) != 0
                    ? dispatchSpilled(b, req, f.scratch) : dispatch(b, req, f.scratch);
        }
        if (stopped) {
            // The session ended while the call ran (the server stopping
            // interrupts it): its answer would be that InterruptedException,
            // while the caller is told the session closed as the socket closes.
            ResponseJournal.current().undo(mark);
            return;
        }
        publish(b, root, 0, mark);
        f.trimBuilder();
    }

    /**
     * Runs a request that Python spilled into its arena ({@code envelope} is
     * the slot's {@code Spill}): decoded in place, the region handed back
     * once the request has run (its values were copied out as they were
     * decoded; the notice rides on the response).
     */
    private int dispatchSpilled(FlatBufferBuilder b, ByteBuffer envelope, DispatchScratch scratch) {
        MessageSpill.Incoming in;
        try {
            in = MessageSpill.open(session.arrow(), envelope);
        } catch (RuntimeException e) {
            return dispatcher.errorResponse(b, e);
        }
        try {
            return dispatch(b, in.bytes(), scratch);
        } finally {
            in.release();
        }
    }

    /** Runs user code for the request {@link #reqSeq}, cancellable by Python. */
    private int dispatch(FlatBufferBuilder b, ByteBuffer req, DispatchScratch scratch) {
        synchronized (userCode) {
            runningSeq = reqSeq;
            if (cancelledSeq == reqSeq && !callbackLane) {
                // Cancelled before it was picked up: it starts interrupted (its
                // releases still run; a batch skips every item).
                Thread.currentThread().interrupt();
            }
        }
        try {
            return dispatcher.handle(b, req, seg.slotSize(), scratch);
        } finally {
            synchronized (userCode) {
                runningSeq = 0;
            }
            // A cancel that raced the return must not reach the socket.
            if (Thread.interrupted() && callbackLane) {
                interruptedWhileWaiting = true; // not ours: callback lanes are never cancelled
            }
        }
    }

    /**
     * Writes the response built in {@code b} and publishes it: a call lane
     * echoes the request's number, a callback lane numbers its own messages.
     * A response too large for the slot is replaced by an error, and what
     * building it handed out (since {@code mark}) is taken back.
     */
    private void publish(FlatBufferBuilder b, int root, int flags, long mark) {
        int slot = seg.slotSize();
        b.finish(root);
        ByteBuffer out = b.dataBuffer();
        ResponseJournal journal = ResponseJournal.current();
        if (out.remaining() > slot) {
            // Too large for the slot: it travels in a region of Java's arena
            // (SHM_LAYOUT.md, "Spill"), which Python releases once decoded.
            int size = out.remaining();
            RegionLedger ledger = session.arrow().ledger();
            RegionLedger.Region spilled = null;
            String why = null;
            try {
                spilled = MessageSpill.spill(ledger, out);
            } catch (IOException | RuntimeException e) {
                why = e.getMessage();
            }
            b.clear();
            if (spilled != null) {
                MessageSpill.envelope(b, spilled, size);
                flags |= ControlSegment.RESP_FLAG_SPILL;
            } else {
                journal.undo(mark);
                String message = "response of " + size + " bytes exceeds the lane slot of " + slot
                        + " bytes and could not spill into the Java payload arena: " + why;
                if ((flags & ControlSegment.RESP_FLAG_CALLBACK) != 0) {
                    throw new IllegalArgumentException("a Python callback call of " + size
                            + " bytes could not be sent: " + message);
                }
                b.finish(dispatcher.errorResponse(b, new ProtocolException(message)));
            }
            out = b.dataBuffer();
        }
        journal.delivered(mark);
        long seq = callbackLane ? respSeq + 1 : reqSeq;
        if ((flags & ControlSegment.RESP_FLAG_CALLBACK) == 0) {
            List<Runnable> acks = journal.takeAwaiting();
            if (!acks.isEmpty()) {
                // Python decodes an answer after giving the lane back: it says when it has.
                flags |= ControlSegment.RESP_FLAG_NEEDS_ACK;
                session.arrow().awaitAck(index, seq, acks);
            }
        }
        seg.writeResponse(index, out);
        seg.setResponseLen(index, out.remaining());
        seg.setResponseFlags(index, flags);
        try {
            session.arrow().flushReleases(); // notices queued by release0 on any thread
        } catch (RuntimeException e) {
            ServerLog.LOG.warning("lane " + index + ": flushing release notices failed: " + e);
        }
        respSeq = seq;
        seg.setResponseSeq(index, seq);
        doorbell.ringPython(Thread.currentThread() == worker);
    }

    // ----------------------------------------------------------- callbacks

    /**
     * Runs Python callback {@code id} on this lane and returns what it
     * returned. The caller is the lane's owner thread, inside user code of a
     * request this lane is serving (or {@link #callOnCallbackLane}).
     *
     * @param id the callback id
     * @param m the interface method called
     * @param args its arguments
     * @return the decoded result (not yet coerced to the return type)
     * @throws PythonException if the Python function raised
     */
    public Object callPython(long id, Method m, Object[] args) {
        if (depth >= MAX_CALLBACK_DEPTH) {
            throw new IllegalStateException("Python callbacks nested deeper than " + MAX_CALLBACK_DEPTH
                    + " levels on lane " + index + " (a callback calling Java calling the callback ...)");
        }
        boolean interrupted;
        synchronized (userCode) {
            runningSeq = 0;
            interrupted = Thread.interrupted();
        }
        depth++;
        Frame f = frame(depth);
        try {
            f.b.clear();
            ResponseJournal journal = ResponseJournal.current();
            long mark = journal.mark();
            int root;
            try {
                root = dispatcher.callbackMessages().encodeCall(f.b, id, m, args);
            } catch (RuntimeException e) {
                journal.undo(mark); // the call never reached Python
                throw e;
            }
            publish(f.b, root, ControlSegment.RESP_FLAG_CALLBACK, mark);
            while (true) {
                if (!awaitRequest(true)) {
                    throw new IllegalStateException("the Python session ended while callback " + id + " ("
                            + describe(m) + ") was running");
                }
                ResponseJournal.current().acknowledged(); // Python read the callback request
                int len = seg.requestLen(index);
                if (len < 0 || len > seg.slotSize()) {
                    throw new ProtocolException("the reply to callback " + id + " is " + Integer.toUnsignedString(len)
                            + " bytes long, more than the lane slot of " + seg.slotSize() + " bytes");
                }
                seg.copyRequest(index, f.request, len);
                // A large reply (or nested call) arrives spilled; a nested
                // call is opened again, and released, by serve.
                MessageSpill.Incoming in = (seg.requestFlags(index) & ControlSegment.REQ_FLAG_SPILL) != 0
                        ? MessageSpill.open(session.arrow(), f.request(len)) : null;
                Object reply;
                try {
                    reply = dispatcher.callbackMessages().decodeReply(in != null ? in.bytes() : f.request(len));
                } catch (RuntimeException e) {
                    if (in != null) {
                        in.release();
                    }
                    throw e;
                }
                if (reply != CallbackMessages.NOT_A_REPLY) {
                    if (in != null) {
                        in.release();
                    }
                    return reply;
                }
                serve(f); // a call the Python function makes: served here, one frame deeper
            }
        } finally {
            depth--;
            synchronized (userCode) {
                // Back in the outer user code: a cancel names Python's latest message.
                runningSeq = callbackLane ? 0 : reqSeq;
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Runs a callback on this callback lane from a thread that serves no
     * lane of the session; the caller took the lane from the session's pool.
     */
    Object callOnCallbackLane(long id, Method m, Object[] args) {
        Thread me = Thread.currentThread();
        Lane previous = CURRENT.get();
        boolean interrupted = Thread.interrupted();
        owner = me;
        CURRENT.set(this);
        try {
            reqSeq = seg.requestSeq(index);
            respSeq = seg.responseSeq(index);
            return callPython(id, m, args);
        } finally {
            owner = null;
            if (previous == null) {
                CURRENT.remove();
            } else {
                CURRENT.set(previous);
            }
            if (interrupted || interruptedWhileWaiting || Thread.interrupted()) {
                me.interrupt();
            }
            interruptedWhileWaiting = false;
        }
    }

    public static String describe(Method m) {
        StringBuilder s = new StringBuilder(m.getDeclaringClass().getName()).append('.').append(m.getName()).append('(');
        Class<?>[] p = m.getParameterTypes();
        for (int i = 0; i < p.length; i++) {
            s.append(i == 0 ? "" : ", ").append(p[i].getSimpleName());
        }
        return s.append(')').toString();
    }
}
