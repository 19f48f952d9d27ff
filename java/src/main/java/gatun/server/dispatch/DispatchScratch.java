package gatun.server.dispatch;

import gatun.protocol.Request;
import gatun.server.ObjectRegistry;
import gatun.server.ValueCodec.Arg;
import gatun.server.ValueCodec.DecodeContext;
import gatun.server.reflect.ClassPolicy;
import gatun.server.reflect.MethodResolver;
import java.util.Arrays;

/**
 * What a {@link Dispatcher} reuses from one request to the next, so that a
 * call like an earlier one allocates nothing of the dispatcher's own: the
 * request's table objects, the decoding state, the decoded names, the last
 * method resolved, and the argument and call arrays by length.
 *
 * <p>One request at a time: a lane keeps one per nesting level (a callback's
 * nested requests get the next level's), so a scratch is only ever used by
 * the thread that owns the lane at that level. Values of a request are
 * cleared when it ends, so the scratch keeps no user object alive.
 */
public final class DispatchScratch {
    /** Arities whose argument and call arrays are kept; a longer call allocates its own. */
    static final int MAX_REUSED_ARITY = 16;
    /** Longest reply array kept for the next batch (256 KB); a longer batch allocates its own. */
    static final int MAX_REUSED_REPLIES = 1 << 16;

    /** The dispatcher this belongs to: its resolver answers {@link #lastMethod}, its registry the context. */
    final Dispatcher owner;
    /** The request's root table. */
    final Request root = new Request();
    final DecodeContext ctx;
    final NameCache names = new NameCache();
    final MethodResolver.LastMethod lastMethod = new MethodResolver.LastMethod();
    /** Per batch nesting level (index = the items' depth): whether an item answered with an error. */
    final boolean[] failed = new boolean[Dispatcher.MAX_BATCH_DEPTH + 1];

    private final Request[] items = new Request[Dispatcher.MAX_BATCH_DEPTH + 1];
    private final BatchScope[] scopes = new BatchScope[Dispatcher.MAX_BATCH_DEPTH + 1];
    private final int[][] replies = new int[Dispatcher.MAX_BATCH_DEPTH + 1][];
    /** By length: argument arrays, each holding its own Args. */
    private final Arg[][] args = new Arg[MAX_REUSED_ARITY + 1][];
    /** By length: arrays passed to {@link MethodResolver#invoke} (receiver and arguments). */
    private final Object[][] calls = new Object[MAX_REUSED_ARITY + 2][];
    /** Bit i: the arrays of length i were used by the current request and hold its values. */
    private long dirtyArgs;
    private long dirtyCalls;
    private boolean busy;

    DispatchScratch(Dispatcher owner, ObjectRegistry registry, ClassPolicy policy) {
        this.owner = owner;
        this.ctx = new DecodeContext(registry, null, policy, 0);
        args[0] = new Arg[0];
    }

    /** Marks the start of a request; a second one before {@link #end} is a bug in the caller. */
    void begin(ClassLoader loader, int budget) {
        if (busy) {
            throw new IllegalStateException("a DispatchScratch serves one request at a time; each nesting level "
                    + "of a lane needs its own");
        }
        busy = true;
        ctx.reset(loader, budget);
    }

    /** Ends the request: drops its argument values, so they can be collected. */
    void end() {
        for (int n = 0; dirtyArgs != 0; n++, dirtyArgs >>>= 1) {
            if ((dirtyArgs & 1) != 0) {
                for (Arg a : args[n]) {
                    a.set(null, null, false);
                }
            }
        }
        for (int n = 0; dirtyCalls != 0; n++, dirtyCalls >>>= 1) {
            if ((dirtyCalls & 1) != 0) {
                Arrays.fill(calls[n], null);
            }
        }
        ctx.reset(null, 0);
        busy = false;
    }

    /** {@code n} Args to decode into: reused for small {@code n}, fresh otherwise. */
    Arg[] args(int n) {
        if (n > MAX_REUSED_ARITY) {
            return fresh(n);
        }
        Arg[] a = args[n];
        if (a == null) {
            a = args[n] = fresh(n);
        }
        dirtyArgs |= 1L << n;
        return a;
    }

    /** An array of {@code n} elements for {@link MethodResolver#invoke}: reused for small {@code n}. */
    Object[] call(int n) {
        if (n >= calls.length) {
            return new Object[n];
        }
        Object[] c = calls[n];
        if (c == null) {
            c = calls[n] = new Object[n];
        }
        dirtyCalls |= 1L << n;
        return c;
    }

    /** The table object for the items of a batch whose items are at {@code depth}. */
    Request item(int depth) {
        Request r = items[depth];
        return r != null ? r : (items[depth] = new Request());
    }

    /** The (reset) scope of a batch whose items are at {@code depth}. */
    BatchScope scope(int depth) {
        BatchScope s = scopes[depth];
        if (s == null) {
            s = scopes[depth] = new BatchScope();
        }
        s.reset();
        return s;
    }

    /** An array of at least {@code n} reply offsets for a batch whose items are at {@code depth}. */
    int[] replies(int depth, int n) {
        int[] r = replies[depth];
        if (r != null && r.length >= n) {
            return r;
        }
        r = new int[Math.max(n, 16)];
        if (n <= MAX_REUSED_REPLIES) {
            replies[depth] = r;
        }
        return r;
    }

    private static Arg[] fresh(int n) {
        Arg[] a = new Arg[n];
        for (int i = 0; i < n; i++) {
            a[i] = new Arg(null, null, false);
        }
        return a;
    }
}
