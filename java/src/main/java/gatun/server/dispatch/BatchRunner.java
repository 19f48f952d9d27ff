package gatun.server.dispatch;

import static gatun.server.dispatch.RequestReader.batchItem;
import static gatun.server.dispatch.RequestReader.batchKind;
import static gatun.server.dispatch.RequestReader.batchLength;
import static gatun.server.dispatch.RequestReader.batchTotal;
import static gatun.server.dispatch.RequestReader.stopOnError;

import com.google.flatbuffers.FlatBufferBuilder;
import gatun.protocol.Request;
import gatun.server.Lane;
import gatun.server.Metrics;
import gatun.server.ProtocolException;
import gatun.server.limits.LimitExceededException;

/**
 * Runs a {@code Batch} request: its items one by one through the
 * dispatcher, each answered in the batch's reply; after a failure with
 * {@code stop_on_error} the rest are answered "skipped" (and what they would
 * have sent released); once Python cancels the batch (Ctrl-C, a cancel by
 * request id) the items not yet run are skipped the same way; replies stop
 * before they outgrow half a slot.
 */
final class BatchRunner {
    private final Dispatcher dispatcher;
    private final Metrics metrics;
    private final Responses responses;

    BatchRunner(Dispatcher dispatcher, Metrics metrics, Responses responses) {
        this.dispatcher = dispatcher;
        this.metrics = metrics;
        this.responses = responses;
    }

    /**
     * Runs a batch's items; stops before an item once the replies take
     * {@code replyBudget} bytes (Python sends the rest again).
     *
     * @return the Response listing the items' replies
     */
    int run(FlatBufferBuilder b, Request r, DispatchScratch s, int depth, int replyBudget) {
        if (depth >= Dispatcher.MAX_BATCH_DEPTH) {
            throw new ProtocolException("batches nested deeper than " + Dispatcher.MAX_BATCH_DEPTH);
        }
        dispatcher.releaseIds(r, s);
        int n = batchLength(r);
        boolean stopOnError = stopOnError(r);
        int itemDepth = depth + 1;
        checkLimits(r, s.item(itemDepth), n);
        int[] items = s.replies(itemDepth, n);
        s.failed[itemDepth] = false;
        BatchScope scope = s.scope(itemDepth);
        Request item = s.item(itemDepth);
        int answered = 0;
        int cancelled = -1;
        for (int i = 0; i < n; i++) {
            if (Lane.currentRequestCancelled()) {
                // Python stopped waiting: nobody reads these replies, so the
                // items not run yet are not run at all.
                dispatcher.releaseSkippedBatch(r, item, i);
                metrics.requests.increment();
                if (cancelled < 0) {
                    cancelled = responses.error(b, "java.util.concurrent.CancellationException",
                            "skipped: the batch was cancelled", "");
                } else {
                    metrics.errors.increment();
                }
                items[answered++] = cancelled;
                continue;
            }
            if (s.failed[itemDepth] && stopOnError) {
                dispatcher.releaseSkippedBatch(r, item, i);
                metrics.requests.increment();
                if (scope.skipped < 0) {
                    scope.skipped = responses.error(b, "java.util.concurrent.CancellationException",
                            "skipped after an earlier error", "");
                } else {
                    metrics.errors.increment();
                }
                items[answered++] = scope.skipped;
                continue;
            }
            if (i > 0 && b.offset() + 4 * i > replyBudget) {
                break; // not run: the reply lists the items before it, and Python sends the rest again
            }
            Request sub;
            try {
                sub = batchItem(r, item, i);
            } catch (ProtocolException e) {
                metrics.requests.increment();
                items[answered++] = responses.error(b, e);
                s.failed[itemDepth] = true;
                continue;
            }
            items[answered++] = dispatcher.run(b, sub, s, itemDepth, scope, replyBudget);
        }
        return Responses.batch(b, items, answered);
    }

    /**
     * The session's batch limits, counting the user's whole batch (the
     * client may split one into several requests; each names the total and
     * the kind): its items, and for {@code invoke_methods} the method calls,
     * for {@code create_objects} the constructions. A refused batch runs none
     * of its items (what they would have sent is released).
     */
    private void checkLimits(Request r, Request item, int n) {
        long items = Math.max(n, batchTotal(r));
        try {
            dispatcher.quota().checkBatch(items, batchKind(r));
        } catch (LimitExceededException e) {
            for (int i = 0; i < n; i++) {
                dispatcher.releaseSkippedBatch(r, item, i);
            }
            throw e;
        }
    }
}
