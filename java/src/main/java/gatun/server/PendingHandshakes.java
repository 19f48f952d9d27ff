package gatun.server;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

/**
 * Accepted connections that have not yet sent their Hello, all read by one
 * thread through a {@link Selector}: however many connections sit idle, they
 * cost no thread (one thread per connection made 2,000 idle connections 2,022
 * JVM threads).
 *
 * <p>Each connection has a deadline ({@code gatun.handshake.timeoutMillis},
 * 10 s by default): one that has not sent a whole Hello frame by then is
 * refused with a Welcome naming the deadline and closed. At most
 * {@code gatun.handshake.maxPending} connections (1,024 by default) wait at
 * once; a newcomer beyond that refuses the one that has waited longest, so a
 * flood of idle connections cannot lock out a real client, which sends its
 * Hello as soon as it connects. A frame length outside 1..64 KiB closes the
 * connection at once, and so does EOF.
 *
 * <p>A complete frame is handed to the server with the channel back in
 * blocking mode (its key cancelled and flushed by {@code selectNow()} first,
 * as {@code configureBlocking(true)} requires), on this thread: what follows
 * (checking the Hello, mapping the control segment, Welcome) is short and
 * never waits for the peer.
 */
final class PendingHandshakes implements AutoCloseable {
    /** What the server does with a complete Hello frame or a refusal. */
    interface Handler {
        /** The channel is blocking again; {@code frame} is the Hello's payload. */
        void hello(SocketChannel channel, ByteBuffer frame);

        /** Sends a Welcome carrying {@code reason} if it can, then closes the channel. */
        void refuse(SocketChannel channel, String reason);
    }

    private final Handler handler;
    private final long timeoutNanos;
    private final int maxPending;
    private final Selector selector;
    private final ConcurrentLinkedQueue<SocketChannel> arrivals = new ConcurrentLinkedQueue<>();
    /** Waiting connections, oldest first (all share one timeout, so also by deadline). */
    private final LinkedHashSet<Pending> pending = new LinkedHashSet<>();
    private final Thread thread;
    private volatile boolean closed;
    /** {@code pending.size()}, readable from other threads. */
    private volatile int waiting;

    /** One connection's partial frame and deadline. */
    private static final class Pending {
        final SocketChannel channel;
        final long deadline;
        final ByteBuffer head = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer body;
        SelectionKey key;

        Pending(SocketChannel channel, long deadline) {
            this.channel = channel;
            this.deadline = deadline;
        }
    }

    /**
     * @param handler receives complete frames and refusals
     * @param timeoutMillis how long a connection may take to send its Hello
     * @param maxPending how many connections may wait at once
     * @throws IOException if the selector cannot be opened
     */
    PendingHandshakes(Handler handler, long timeoutMillis, int maxPending) throws IOException {
        if (timeoutMillis <= 0) {
            throw new IllegalArgumentException("handshake timeout must be positive, got " + timeoutMillis + " ms");
        }
        if (maxPending <= 0) {
            throw new IllegalArgumentException("pending handshake cap must be positive, got " + maxPending);
        }
        this.handler = handler;
        this.timeoutNanos = TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        this.maxPending = maxPending;
        this.selector = Selector.open();
        this.thread = new Thread(this::run, "gatun-handshake");
        this.thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    /** Queues a freshly accepted (blocking) channel; the handshake thread takes it from here. */
    void add(SocketChannel channel) {
        if (closed) {
            closeQuietly(channel);
            return;
        }
        arrivals.add(channel);
        selector.wakeup();
        if (closed) { // close() may have drained the queue before the add
            drainArrivalsClosing();
        }
    }

    /** Closes every waiting connection and stops the thread. */
    @Override
    public void close() {
        closed = true;
        selector.wakeup();
        drainArrivalsClosing();
    }

    /** @return connections waiting for their Hello (registered with the selector; for tests) */
    int waiting() {
        return waiting;
    }

    private void drainArrivalsClosing() {
        SocketChannel c;
        while ((c = arrivals.poll()) != null) {
            closeQuietly(c);
        }
    }

    private void run() {
        try {
            while (!closed) {
                long now = System.nanoTime();
                expire(now);
                long waitMillis = 0; // 0: no deadline pending, wait for activity
                if (!pending.isEmpty()) {
                    long nanos = pending.iterator().next().deadline - now;
                    waitMillis = Math.max(1, TimeUnit.NANOSECONDS.toMillis(nanos) + 1);
                }
                selector.select(waitMillis);
                List<Pending> complete = readReady();
                if (!complete.isEmpty()) {
                    finish(complete);
                }
                registerArrivals();
            }
        } catch (IOException | ClosedSelectorException e) {
            if (!closed) {
                ServerLog.LOG.warning("handshake selector failed, no new connections are served: " + e);
            }
        } finally {
            for (Pending p : pending) {
                closeQuietly(p.channel);
            }
            pending.clear();
            waiting = 0;
            drainArrivalsClosing();
            try {
                selector.close();
            } catch (IOException e) {
                // nothing left to do
            }
        }
    }

    private void registerArrivals() {
        SocketChannel c;
        while ((c = arrivals.poll()) != null) {
            Pending p = new Pending(c, System.nanoTime() + timeoutNanos);
            try {
                c.configureBlocking(false);
                p.key = c.register(selector, SelectionKey.OP_READ, p);
            } catch (IOException | RuntimeException e) {
                closeQuietly(c);
                continue;
            }
            pending.add(p);
            waiting = pending.size();
            if (pending.size() > maxPending) {
                Pending oldest = pending.iterator().next();
                drop(oldest, "too many connections are waiting to send their Hello (at most " + maxPending
                        + ", -Dgatun.handshake.maxPending); this one waited longest");
            }
        }
    }

    /** Refuses every connection whose deadline has passed. */
    private void expire(long now) {
        Iterator<Pending> it = pending.iterator();
        List<Pending> late = new ArrayList<>();
        while (it.hasNext()) {
            Pending p = it.next();
            if (p.deadline - now > 0) {
                break; // the rest arrived later, so their deadlines are later too
            }
            late.add(p);
        }
        long millis = TimeUnit.NANOSECONDS.toMillis(timeoutNanos);
        for (Pending p : late) {
            drop(p, "no complete Hello within " + millis + " ms of connecting (-Dgatun.handshake.timeoutMillis)");
        }
    }

    /** Takes {@code p} out of the selector and refuses it (the Welcome is a best-effort single write). */
    private void drop(Pending p, String reason) {
        pending.remove(p);
        waiting = pending.size();
        p.key.cancel();
        handler.refuse(p.channel, reason);
    }

    /** Reads what the ready channels sent. @return those whose Hello frame is complete */
    private List<Pending> readReady() {
        List<Pending> complete = new ArrayList<>();
        Iterator<SelectionKey> it = selector.selectedKeys().iterator();
        while (it.hasNext()) {
            SelectionKey key = it.next();
            it.remove();
            Pending p = (Pending) key.attachment();
            if (!key.isValid() || !pending.contains(p)) {
                continue;
            }
            try {
                if (readSome(p)) {
                    pending.remove(p);
                    waiting = pending.size();
                    key.cancel();
                    complete.add(p);
                }
            } catch (IOException e) {
                // EOF, an I/O error or a length out of range: nobody to answer
                pending.remove(p);
                waiting = pending.size();
                key.cancel();
                closeQuietly(p.channel);
            }
        }
        return complete;
    }

    /** @return true once the whole frame is in {@code p.body} */
    private static boolean readSome(Pending p) throws IOException {
        if (p.body == null) {
            if (p.channel.read(p.head) < 0) {
                throw new IOException("peer closed the socket during the handshake");
            }
            if (p.head.hasRemaining()) {
                return false;
            }
            long len = p.head.getInt(0) & 0xFFFF_FFFFL;
            if (len == 0 || len > Frames.MAX_FRAME) {
                throw new IOException("handshake frame of " + len + " bytes is outside 1.." + Frames.MAX_FRAME);
            }
            p.body = ByteBuffer.allocate((int) len).order(ByteOrder.LITTLE_ENDIAN);
        }
        if (p.channel.read(p.body) < 0) {
            throw new IOException("peer closed the socket during the handshake");
        }
        if (p.body.hasRemaining()) {
            return false;
        }
        p.body.flip();
        return true;
    }

    /** Puts the complete channels back in blocking mode and hands them over. */
    private void finish(List<Pending> complete) throws IOException {
        selector.selectNow(); // deregisters the cancelled keys; configureBlocking(true) needs that
        selector.selectedKeys().clear(); // keys made ready meanwhile are still registered and selected again
        for (Pending p : complete) {
            try {
                p.channel.configureBlocking(true);
                handler.hello(p.channel, p.body);
            } catch (IOException | RuntimeException | LinkageError e) {
                // LinkageError too (a host whose class path lacks what a session needs):
                // this thread serves every later connection and must outlive one failure.
                ServerLog.LOG.warning("handshake failed: " + e);
                closeQuietly(p.channel);
            }
        }
    }

    static void closeQuietly(SocketChannel c) {
        try {
            c.close();
        } catch (IOException e) {
            // already closed
        }
    }
}
