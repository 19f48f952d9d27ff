package gatun.server.dispatch;

import gatun.server.ServerLog;
import gatun.server.ObjectRegistry;
import gatun.server.arrow.RegionLedger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What building the current message handed out, so it can be taken back if
 * the message is never delivered: object ids registered for it and arena
 * regions whose peer hold was counted for it. A response that turns out
 * larger than the lane slot is replaced by an error; without the journal its
 * ids and regions would stay held until the session ended, since Python never
 * learns them and so never releases them.
 *
 * <p>One journal per thread (a lane's thread builds one message at a time,
 * nested callbacks inside it): {@link #mark()} before building, then
 * {@link #delivered(long)} or {@link #undo(long)} with that mark.
 *
 * <p>Some things must wait until Python has <em>read</em> a delivered
 * message, not merely received it ({@link #onAcknowledged}): a schema
 * definition counts as known to Python only once it has been decoded (a reply
 * on another lane may be read first and must carry it again), and a region of
 * Python's own memory forwarded back to it stays held by Java until Python has
 * taken its own reference. An answer's actions wait for Python's
 * acknowledgement notice ({@link #takeAwaiting()}, the lane hands them to the
 * session); a callback call's run when Python replies to it
 * ({@link #acknowledged()}).
 */
public final class ResponseJournal {
    private static final ThreadLocal<ResponseJournal> OF_THREAD = ThreadLocal.withInitial(ResponseJournal::new);

    private long[] ids = new long[16];
    private ObjectRegistry[] registries = new ObjectRegistry[16];
    private int idCount;
    private final ArrayList<RegionLedger.Region> regions = new ArrayList<>();
    private final ArrayList<RegionLedger> ledgers = new ArrayList<>();
    /**
     * Beside each entry of {@code regions} (which is then null): an action of
     * the message being built, run once Python has read it.
     */
    private final ArrayList<Acknowledgement> acks = new ArrayList<>();
    /** Actions of delivered messages Python has not yet acknowledged. */
    private final ArrayList<Runnable> awaitingAck = new ArrayList<>();

    private ResponseJournal() {
    }

    /** @return this thread's journal */
    public static ResponseJournal current() {
        return OF_THREAD.get();
    }

    /** @return the position to come back to (ids in the high half, regions in the low) */
    public long mark() {
        return ((long) idCount << 32) | regions.size();
    }

    /**
     * Records an id registered for the message being built.
     *
     * @param registry the registry that issued it
     * @param id the id
     */
    public void registered(ObjectRegistry registry, long id) {
        if (idCount == ids.length) {
            ids = Arrays.copyOf(ids, idCount * 2);
            registries = Arrays.copyOf(registries, idCount * 2);
        }
        ids[idCount] = id;
        registries[idCount++] = registry;
    }

    /**
     * Records a peer hold counted for the message being built.
     *
     * @param ledger the session's RegionLedger
     * @param region the region held
     */
    public void held(RegionLedger ledger, RegionLedger.Region region) {
        ledgers.add(ledger);
        regions.add(region);
        acks.add(null);
    }

    /** An action waiting for Python to read a message. */
    private record Acknowledgement(Runnable action, boolean alsoIfDropped) {
    }

    /**
     * Runs {@code action} once Python has read the message being built (the
     * next message on the same lane). If the message is dropped instead, the
     * action runs at once when {@code alsoIfDropped} (a hold to give back),
     * and never otherwise (a fact that only delivery makes true).
     *
     * @param action what to run
     * @param alsoIfDropped whether to run it when the message is dropped
     */
    public void onAcknowledged(Runnable action, boolean alsoIfDropped) {
        ledgers.add(null);
        regions.add(null);
        acks.add(new Acknowledgement(action, alsoIfDropped));
    }

    /**
     * The message built since {@code mark} reached Python: forget its entries.
     * Its acknowledgement actions wait for {@link #acknowledged()}.
     *
     * @param mark from {@link #mark()}
     */
    public void delivered(long mark) {
        for (int i = (int) mark; i < acks.size(); i++) {
            Acknowledgement a = acks.get(i);
            if (a != null) {
                awaitingAck.add(a.action());
            }
        }
        truncate(mark);
    }

    /**
     * Takes the acknowledgement actions of the messages delivered so far, for
     * an answer whose acknowledgement Python sends on the release ring (it
     * decodes answers after giving the lane back, so the next message on the
     * lane proves nothing about them).
     *
     * @return the actions, possibly none
     */
    public List<Runnable> takeAwaiting() {
        if (awaitingAck.isEmpty()) {
            return List.of();
        }
        List<Runnable> out = new ArrayList<>(awaitingAck);
        awaitingAck.clear();
        return out;
    }

    /**
     * Python replied to a callback call on this thread's lane, so it has read
     * the call (it runs the callback, then replies): runs the acknowledgement
     * actions of the messages delivered before it.
     */
    public void acknowledged() {
        if (awaitingAck.isEmpty()) {
            return;
        }
        Runnable[] due = awaitingAck.toArray(new Runnable[0]);
        awaitingAck.clear();
        for (Runnable r : due) {
            runQuietly(r);
        }
    }

    /**
     * The lane stopped: Python will acknowledge nothing more, so the holds
     * waiting for it are given back.
     */
    public void abandon() {
        acknowledged();
    }

    private static void runQuietly(Runnable r) {
        try {
            r.run();
        } catch (RuntimeException e) {
            ServerLog.LOG.warning("an acknowledgement action failed: " + e);
        }
    }

    /**
     * The message built since {@code mark} was dropped: release its ids and
     * peer holds, newest first.
     *
     * @param mark from {@link #mark()}
     */
    public void undo(long mark) {
        int idMark = (int) (mark >>> 32);
        int regionMark = (int) mark;
        for (int i = regions.size() - 1; i >= regionMark; i--) {
            Acknowledgement a = acks.get(i);
            if (a == null) {
                ledgers.get(i).peerReleased(regions.get(i).handle(), 1);
            } else if (a.alsoIfDropped()) {
                runQuietly(a.action());
            }
        }
        for (int i = idCount - 1; i >= idMark; i--) {
            registries[i].release(ids[i]);
        }
        truncate(mark);
    }

    private void truncate(long mark) {
        int idMark = (int) (mark >>> 32);
        Arrays.fill(registries, idMark, idCount, null);
        idCount = idMark;
        int regionMark = (int) mark;
        regions.subList(regionMark, regions.size()).clear();
        ledgers.subList(regionMark, ledgers.size()).clear();
        acks.subList(regionMark, acks.size()).clear();
    }
}
