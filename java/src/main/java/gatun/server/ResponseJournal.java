package gatun.server;

import gatun.server.arrow.JavaArena;
import java.util.ArrayList;
import java.util.Arrays;

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
 */
public final class ResponseJournal {
    private static final ThreadLocal<ResponseJournal> OF_THREAD = ThreadLocal.withInitial(ResponseJournal::new);

    private long[] ids = new long[16];
    private ObjectRegistry[] registries = new ObjectRegistry[16];
    private int idCount;
    private final ArrayList<JavaArena.Region> regions = new ArrayList<>();
    private final ArrayList<JavaArena> arenas = new ArrayList<>();

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
     * @param arena the session arena
     * @param region the region held
     */
    public void held(JavaArena arena, JavaArena.Region region) {
        arenas.add(arena);
        regions.add(region);
    }

    /**
     * The message built since {@code mark} reached Python: forget its entries.
     *
     * @param mark from {@link #mark()}
     */
    public void delivered(long mark) {
        truncate(mark);
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
            arenas.get(i).peerReleased(regions.get(i).handle(), 1);
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
        arenas.subList(regionMark, arenas.size()).clear();
    }
}
