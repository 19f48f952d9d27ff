package gatun.server.dispatch;

import gatun.protocol.Request;
import gatun.server.ProtocolException;
import gatun.server.ValueCodec;

/**
 * Allocation-free readers of a {@link Request}'s fields. FlatBuffers decodes
 * lazily, so each read can meet bounds or UTF-8 failures in bytes Python
 * wrote; every reader turns them into a {@link ProtocolException} naming a
 * malformed request, never an exception escaping the dispatcher.
 */
public final class RequestReader {
    private RequestReader() {
    }

    /** {@code action} of a request; a failure reading it is a malformed request. */
    public static int action(Request r) {
        try {
            return r.action();
        } catch (RuntimeException | StackOverflowError e) {
            throw malformed(e);
        }
    }

    /** {@code returnObjectRef} of a request; a failure reading it is a malformed request. */
    public static boolean returnObjectRef(Request r) {
        try {
            return r.returnObjectRef();
        } catch (RuntimeException | StackOverflowError e) {
            throw malformed(e);
        }
    }

    /** {@code stopOnError} of a request; a failure reading it is a malformed request. */
    public static boolean stopOnError(Request r) {
        try {
            return r.stopOnError();
        } catch (RuntimeException | StackOverflowError e) {
            throw malformed(e);
        }
    }

    /**
     * {@code batchTotal} of a Batch request: the items of the whole batch it
     * is part of (0 when it is the whole); a failure reading it is a malformed request.
     */
    public static long batchTotal(Request r) {
        try {
            return r.batchTotal();
        } catch (RuntimeException | StackOverflowError e) {
            throw malformed(e);
        }
    }

    /** {@code batchKind} of a Batch request; a failure reading it is a malformed request. */
    public static int batchKind(Request r) {
        try {
            return r.batchKind();
        } catch (RuntimeException | StackOverflowError e) {
            throw malformed(e);
        }
    }

    /** {@code objectId} of a request; a failure reading it is a malformed request. */
    public static long objectId(Request r) {
        try {
            return r.objectId();
        } catch (RuntimeException | StackOverflowError e) {
            throw malformed(e);
        }
    }

    /** {@code releaseId} of a request; a failure reading it is a malformed request. */
    public static long releaseId(Request r, int i) {
        try {
            return r.releaseIds(i);
        } catch (RuntimeException | StackOverflowError e) {
            throw malformed(e);
        }
    }

    /** {@code batchItem} of a request; a failure reading it is a malformed request. */
    public static Request batchItem(Request r, Request item, int i) {
        try {
            return r.batch(item, i);
        } catch (RuntimeException | StackOverflowError e) {
            throw malformed(e);
        }
    }

    /** {@code batchLength} of a request; a failure reading it is a malformed request. */
    public static int batchLength(Request r) {
        int n;
        try {
            n = r.batchLength();
        } catch (RuntimeException | StackOverflowError e) {
            throw malformed(e);
        }
        return ValueCodec.checkedLength(n, 4, r);
    }

    /** {@code argsLength} of a request; a failure reading it is a malformed request. */
    public static int argsLength(Request r) {
        int n;
        try {
            n = r.argsLength();
        } catch (RuntimeException | StackOverflowError e) {
            throw malformed(e);
        }
        return ValueCodec.checkedLength(n, 4, r);
    }

    /** {@code releaseIdsLength} of a request; a failure reading it is a malformed request. */
    public static int releaseIdsLength(Request r) {
        int n;
        try {
            n = r.releaseIdsLength();
        } catch (RuntimeException | StackOverflowError e) {
            throw malformed(e);
        }
        return ValueCodec.checkedLength(n, 8, r);
    }

    /** {@code requireText} of a request; a failure reading it is a malformed request. */
    public static String requireText(java.util.function.Supplier<String> s, String what) {
        String v = guard(s::get);
        if (v == null || v.isEmpty()) {
            throw new ProtocolException("request has no " + what);
        }
        return v;
    }

    /** Reads from the request buffer; any failure is a malformed request. */
    public static <T> T guard(java.util.function.Supplier<T> read) {
        try {
            return read.get();
        } catch (ProtocolException e) {
            throw e;
        } catch (RuntimeException | StackOverflowError e) {
            throw malformed(e);
        }
    }

    /** {@code malformed} of a request; a failure reading it is a malformed request. */
    public static ProtocolException malformed(Throwable t) {
        return new ProtocolException("malformed request: " + t, t);
    }
}
