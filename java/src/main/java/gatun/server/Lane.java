package gatun.server;

import com.google.flatbuffers.FlatBufferBuilder;
import gatun.server.shm.ControlSegment;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.locks.LockSupport;

/**
 * One lane of a session: a Unix socket, a slot pair in the control segment,
 * and two threads.
 *
 * <p>The <b>I/O thread</b> owns the socket's read side and blocks reading it:
 * a RING byte (0x01) unparks the worker, a CANCEL byte (0x02) interrupts the
 * worker if it is running user code for the request in {@code cancel_seq}, and
 * EOF ends the session. It is never interrupted.
 *
 * <p>The <b>worker thread</b> waits for {@code req_seq} to move (spinning about
 * 50 µs while it recently had work, then the doorbell wait of SHM_LAYOUT.md:
 * {@code jvm_waiting = 1}, re-check, park), copies the request out of the slot,
 * dispatches it, writes the response and notifies Python ({@code resp_seq},
 * then CAS {@code py_waiting} 1 -&gt; 0 and, only if that succeeded, one RING
 * byte on the socket).
 *
 * <p><b>Interrupt discipline.</b> The worker writes to the socket itself, and an
 * interrupt that reaches a blocking channel operation closes the channel
 * (java.nio InterruptibleChannel). So a cancel may interrupt the worker only
 * while the "running user code" sequence is set; setting, clearing and
 * interrupting all happen under one lock, and the worker clears its interrupt
 * status with {@link Thread#interrupted()} right after user code returns. No
 * interrupt can therefore be pending when the worker touches the socket, and a
 * socket is never closed by an interrupt.
 */
final class Lane {
    private static final byte RING = 0x01;
    private static final byte CANCEL = 0x02;
    private static final long SPIN_NANOS = 100_000;
    private static final long HOT_NANOS = 2_000_000;

    private final Session session;
    private final int index;
    private final SocketChannel channel;
    private final ControlSegment seg;
    private final Dispatcher dispatcher;
    private final Thread io;
    private final Thread worker;
    private volatile boolean stopped;

    private final Object userCode = new Object();
    /** Sequence whose user code is running, 0 when none; guarded by {@link #userCode}. */
    private long runningSeq;

    Lane(Session session, int index, SocketChannel channel, ControlSegment seg, Dispatcher dispatcher) {
        this.session = session;
        this.index = index;
        this.channel = channel;
        this.seg = seg;
        this.dispatcher = dispatcher;
        String prefix = "gatun-s" + Long.toHexString(session.id()) + "-lane" + index;
        this.io = new Thread(this::runIo, prefix + "-io");
        this.worker = new Thread(this::runWorker, prefix + "-worker");
        io.setDaemon(true);
        worker.setDaemon(true);
    }

    void start() {
        worker.start();
        io.start();
    }

    /** Stops both threads and closes the socket (idempotent). */
    void stop() {
        stopped = true;
        LockSupport.unpark(worker);
        synchronized (userCode) {
            if (runningSeq != 0) {
                worker.interrupt();
            }
        }
        try {
            channel.close();
        } catch (IOException e) {
            // already closed
        }
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
                    if (b == RING) {
                        LockSupport.unpark(worker);
                    } else if (b == CANCEL) {
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
            if (runningSeq != 0 && runningSeq == seq) {
                worker.interrupt();
            }
        }
    }

    // -------------------------------------------------------------- worker

    private void runWorker() {
        FlatBufferBuilder b = new FlatBufferBuilder(64 * 1024);
        byte[] request = new byte[seg.slotSize()];
        ByteBuffer ring = ByteBuffer.allocate(1);
        long last = seg.responseSeq(index);
        long lastWork = 0;
        while (!stopped) {
            long seq = await(last, System.nanoTime() - lastWork < HOT_NANOS);
            if (seq == last) {
                break; // stopped
            }
            try {
                try {
                    serve(seq, b, request);
                } catch (RuntimeException | Error e) {
                    System.err.println("gatun: lane " + index + ": request " + seq + " failed outside dispatch: " + e);
                    serveFailed(seq, b, e);
                }
                if (seg.takePyWaiting(index)) {
                    ring.clear();
                    ring.put(0, RING);
                    while (ring.hasRemaining()) {
                        channel.write(ring);
                    }
                }
            } catch (IOException e) {
                if (!stopped) {
                    System.err.println("gatun: lane " + index + ": doorbell write failed: " + e);
                }
                break;
            } catch (Throwable t) {
                System.err.println("gatun: lane " + index + ": request " + seq + " failed outside dispatch: " + t);
            }
            last = seq;
            lastWork = System.nanoTime();
        }
    }

    /** Waits until req_seq differs from {@code last}; returns it, or {@code last} if stopped. */
    private long await(long last, boolean hot) {
        if (hot) {
            seg.setJvmSpinning(index, 1);
            long deadline = System.nanoTime() + SPIN_NANOS;
            try {
                do {
                    long s = seg.requestSeq(index);
                    if (s != last) {
                        return s;
                    }
                    Thread.onSpinWait();
                } while (System.nanoTime() < deadline);
            } finally {
                seg.setJvmSpinning(index, 0);
            }
        }
        while (!stopped) {
            long s = seg.requestSeq(index);
            if (s != last) {
                return s;
            }
            seg.setJvmWaiting(index, 1);
            s = seg.requestSeq(index);
            if (s != last) {
                // If this CAS fails Python took the flag and a RING byte is on its way:
                // a harmless spurious unpark later.
                seg.takeJvmWaiting(index);
                return s;
            }
            LockSupport.park(this);
            seg.takeJvmWaiting(index);
        }
        return last;
    }

    /** Copies the request out, dispatches it and publishes the response for {@code seq}. */
    private void serve(long seq, FlatBufferBuilder b, byte[] request) {
        int slot = seg.slotSize();
        int len = seg.requestLen(index);
        b.clear();
        try {
            session.arrow().drainPeerReleases(); // Python's releases of Java's regions
        } catch (RuntimeException e) {
            System.err.println("gatun: lane " + index + ": draining release notices failed: " + e);
        }
        int root;
        if (len < 0 || len > slot) {
            root = dispatcher.errorResponse(b, new ProtocolException("request of " + Integer.toUnsignedString(len)
                    + " bytes exceeds the lane slot of " + slot + " bytes"));
        } else {
            seg.copyRequest(index, request, len);
            ByteBuffer req = ByteBuffer.wrap(request, 0, len).slice();
            synchronized (userCode) {
                runningSeq = seq;
            }
            try {
                root = dispatcher.handle(b, req);
            } finally {
                synchronized (userCode) {
                    runningSeq = 0;
                }
                Thread.interrupted(); // a cancel that raced the return must not reach the socket
            }
        }
        publish(seq, b, root);
    }

    /**
     * Answers {@code seq} with an error when serving it failed outside the
     * dispatcher (which never throws), so Python is never left waiting.
     */
    private void serveFailed(long seq, FlatBufferBuilder b, Throwable t) {
        b.clear();
        publish(seq, b, dispatcher.errorResponse(b, t));
    }

    private void publish(long seq, FlatBufferBuilder b, int root) {
        int slot = seg.slotSize();
        b.finish(root);
        ByteBuffer out = b.dataBuffer();
        if (out.remaining() > slot) {
            int size = out.remaining();
            b.clear();
            root = dispatcher.errorResponse(b, new ProtocolException("response of " + size
                    + " bytes exceeds the lane slot of " + slot + " bytes"));
            b.finish(root);
            out = b.dataBuffer();
        }
        seg.writeResponse(index, out);
        seg.setResponseLen(index, out.remaining());
        try {
            session.arrow().flushReleases(); // notices queued by release0 on any thread
        } catch (RuntimeException e) {
            System.err.println("gatun: lane " + index + ": flushing release notices failed: " + e);
        }
        seg.setResponseSeq(index, seq);
    }
}
