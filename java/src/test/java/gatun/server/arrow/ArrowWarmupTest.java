package gatun.server.arrow;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;

import org.junit.jupiter.api.Test;

class ArrowWarmupTest {
    /**
     * The warm-up goes through the real receive path (schema bytes, create,
     * load, validate); its allocator's close fails the run on any leak.
     */
    @Test
    void warmupLoadsASampleBatchAndLeaksNothing() {
        assertDoesNotThrow(ArrowWarmup::run);
        assertDoesNotThrow(ArrowWarmup::run); // a second pass finds everything initialised
    }
}
