package gatun.server.arrow;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.ViewVarCharVector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The view-vector checks Arrow Java's own buffer visitor lacks, and view padding. */
class BufferCheckTest {
    private BufferAllocator allocator;
    private ViewVarCharVector views;

    @BeforeEach
    void fill() {
        allocator = new RootAllocator();
        views = new ViewVarCharVector("v", allocator);
        views.allocateNew();
        views.setSafe(0, "short".getBytes(StandardCharsets.UTF_8));
        views.setNull(1);
        views.setSafe(2, "longer than twelve bytes".getBytes(StandardCharsets.UTF_8));
        views.setValueCount(3);
    }

    @AfterEach
    void close() {
        views.close();
        allocator.close();
    }

    private void check() {
        ArrowSession.validate(List.<FieldVector>of(views));
    }

    @Test
    void wellFormedViewsPass() {
        assertDoesNotThrow(this::check);
    }

    @Test
    void aLongViewNamingAMissingDataBufferIsRefused() {
        views.getDataBuffer().setInt(2 * 16 + 8, 5);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, this::check);
        assertTrue(e.getMessage().contains("field 'v'") && e.getMessage().contains("data buffer 5"),
                e.getMessage());
    }

    @Test
    void aLongViewReadingPastItsDataBufferIsRefused() {
        views.getDataBuffer().setInt(2 * 16 + 12, Integer.MAX_VALUE - 8);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, this::check);
        assertTrue(e.getMessage().contains("row 2 reads bytes"), e.getMessage());
    }

    @Test
    void aNegativeLengthIsRefused() {
        views.getDataBuffer().setInt(0, -1);
        assertThrows(IllegalArgumentException.class, this::check);
    }

    @Test
    void paddingOfShortViewsIsZeroedWithoutChangingValues() {
        ArrowBuf buf = views.getDataBuffer();
        buf.setByte(4 + 5, 0x7f); // right after "short"
        buf.setByte(15, 0x01);
        ViewPadding.clean(List.<FieldVector>of(views));
        assertEquals(0, buf.getByte(9));
        assertEquals(0, buf.getByte(15));
        assertEquals("short", views.getObject(0).toString());
        assertEquals("longer than twelve bytes", views.getObject(2).toString());
    }
}
