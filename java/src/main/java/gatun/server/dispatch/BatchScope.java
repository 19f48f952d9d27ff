package gatun.server.dispatch;

import com.google.flatbuffers.FlatBufferBuilder;
import gatun.server.ValueCodec;

/**
 * What the items of one batch share, so that an item like the one before
 * costs no allocation beyond its call's own: an outcome that is always
 * encoded the same (null, true, false, skipped) is encoded once and
 * referenced by every item with that outcome, as FlatBuffers allows. A
 * batch of setters or {@code add} calls then answers with 4 bytes per
 * item, and a batch stopped early by an error fits its slot however many
 * items it skipped. (Names and the resolved method are remembered across
 * items and requests by the {@link DispatchScratch}.)
 */
final class BatchScope {
    private int none;
    private int yes;
    private int no;
    int skipped;

    /** Starts a batch: nothing encoded yet. */
    void reset() {
        none = -1;
        yes = -1;
        no = -1;
        skipped = -1;
    }

    /** The Response for a null or Boolean result. */
    int value(FlatBufferBuilder b, Boolean result) {
        if (result == null) {
            return none >= 0 ? none : (none = Responses.value(b, ValueCodec.encode(b, null, null, 0)));
        }
        if (result) {
            return yes >= 0 ? yes : (yes = Responses.value(b, ValueCodec.encode(b, true, null, 0)));
        }
        return no >= 0 ? no : (no = Responses.value(b, ValueCodec.encode(b, false, null, 0)));
    }
}
