package gatun.server.arrow;

import gatun.protocol.RegionRef;
import gatun.protocol.Spill;
import gatun.server.ProtocolException;
import gatun.server.shm.ControlSegment;
import gatun.server.shm.Segment;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Messages larger than a lane slot (ARCHITECTURE §5, "spill";
 * SHM_LAYOUT.md, "Spill"). The slot then holds a small {@code Spill} naming a
 * region of the sender's payload arena, and the lane's {@code req_flags} /
 * {@code resp_flags} carry the SPILL bit.
 *
 * <p>Python to Java: {@link #open} checks the region against Python's
 * segment and returns a view of it; the caller decodes the request from the
 * view (values are copied out as they are decoded) and then calls
 * {@link Incoming#release()}, which queues {@code Release(handle, 1)}.
 *
 * <p>Java to Python: {@link #spill} copies a finished response into a region
 * of the session's {@link RegionLedger} with one peer hold, which Python
 * releases once it has decoded the response.
 */
public final class MessageSpill {
    private MessageSpill() {
    }

    /** A request read in place from a region of Python's arena. */
    public static final class Incoming {
        private final ByteBuffer bytes;
        private final long handle;
        private final RegionReleases releases;
        private boolean released;

        private Incoming(ByteBuffer bytes, long handle, RegionReleases releases) {
            this.bytes = bytes;
            this.handle = handle;
            this.releases = releases;
        }

        /** @return the request's bytes (position 0, limit = length, little-endian); valid until {@link #release()} */
        public ByteBuffer bytes() {
            return bytes;
        }

        /** Hands the region back to Python (once, however often it is called). */
        public void release() {
            if (!released) {
                released = true;
                releases.add(handle, 1);
            }
        }
    }

    /**
     * Follows the {@code Spill} in a request slot to its region.
     *
     * @param session the session's Arrow plane (its PeerSegments and RegionReleases)
     * @param envelope the slot's bytes
     * @return the request in place
     * @throws ProtocolException if the message or the region is malformed; the
     *     region (if the handle could be read) is released all the same, so a
     *     bad reference never pins Python's memory
     */
    public static Incoming open(ArrowSession session, ByteBuffer envelope) {
        RegionRef r;
        try {
            if (envelope.remaining() < 8) {
                throw new ProtocolException("spill message of " + envelope.remaining() + " bytes is too short");
            }
            r = Spill.getRootAsSpill(envelope).region();
        } catch (ProtocolException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new ProtocolException("malformed spill message: " + e, e);
        }
        if (r == null) {
            throw new ProtocolException("spill message names no region");
        }
        long handle = r.handle();
        long segment = r.segment();
        long offset = r.offset();
        long length = r.length();
        try {
            if (segment < 1 || segment >= RegionLedger.FIRST_SEGMENT_ID) {
                throw new ProtocolException("spilled request in segment " + segment + ", which is not one of Python's");
            }
            if (length < 0 || length > Integer.MAX_VALUE) {
                throw new ProtocolException("spilled request of " + Long.toUnsignedString(length)
                        + " bytes exceeds the largest message (" + Integer.MAX_VALUE + " bytes)");
            }
            Segment m;
            try {
                m = session.peerSegments().segment((int) segment);
            } catch (IllegalArgumentException | IllegalStateException e) {
                throw new ProtocolException("spilled request: " + e.getMessage(), e);
            }
            if (offset < 0 || offset > m.size() - length) {
                throw new ProtocolException("spilled request of " + length + " bytes at "
                        + Long.toUnsignedString(offset) + " exceeds segment " + segment + " of " + m.size() + " bytes");
            }
            return new Incoming(m.slice(offset, (int) length), handle, session.regionReleases());
        } catch (RuntimeException e) {
            session.regionReleases().add(handle, 1);
            throw e;
        }
    }

    /**
     * Copies a finished response too large for the slot into a new region of
     * {@code ledger} and counts Python's hold on it.
     *
     * @param ledger the session's RegionLedger
     * @param message the finished response (position to limit)
     * @return the region; describe it to Python with {@link #envelope}
     * @throws IOException if the arena cannot create a segment for it
     * @throws IllegalArgumentException if it exceeds the largest region
     */
    public static RegionLedger.Region spill(RegionLedger ledger, ByteBuffer message) throws IOException {
        int length = message.remaining();
        if (length > ControlSegment.MAX_SEGMENT_SIZE) {
            throw new IllegalArgumentException("a response of " + length + " bytes exceeds the largest message ("
                    + ControlSegment.MAX_SEGMENT_SIZE + " bytes, one arena segment); return it in parts");
        }
        RegionLedger.Region r = ledger.allocate(length);
        try {
            if (message.hasArray()) {
                r.mapping().put(r.offset(), message.array(), message.arrayOffset() + message.position(), length);
            } else {
                r.mapping().slice(r.offset(), length).put(message.duplicate());
            }
        } catch (RuntimeException e) {
            ledger.free(r);
            throw e;
        }
        ledger.addPeerHold(r);
        return r;
    }

    /**
     * Builds the {@code Spill} naming {@code length} bytes of region {@code r}.
     *
     * @param b a cleared builder; finished on return
     * @param r the region
     * @param length the message's length
     */
    public static void envelope(com.google.flatbuffers.FlatBufferBuilder b, RegionLedger.Region r, int length) {
        Spill.startSpill(b);
        Spill.addRegion(b, RegionRef.createRegionRef(b, r.handle(), r.segmentId(), 0, r.offset(), length));
        b.finish(Spill.endSpill(b));
    }
}
