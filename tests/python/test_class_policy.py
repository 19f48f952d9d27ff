"""The class policy holds on every path (issue 16, item 4): each of these ran a
process, stopped the JVM or wrote to a raw address past the old deny list."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

import gatun
from gatun import JavaSecurityException

PROCESS_XML = b"""<?xml version="1.0"?>
<java><object class="java.lang.ProcessBuilder">
<array class="java.lang.String" length="1"><void index="0"><string>true</string></void></array>
<void method="start"/></object></java>"""

EXIT_XML = b"""<?xml version="1.0"?>
<java><class>java.lang.System</class><void class="java.lang.System" method="exit">
<int>3</int></void></java>"""


@pytest.fixture(scope="module")
def guarded() -> Iterator[gatun.GatunClient]:
    """A JVM of the module's own: a hole in the policy would kill it."""
    own = gatun.connect()
    yield own
    own.close()


def _still_alive(client: gatun.GatunClient) -> None:
    assert client.jvm.java.lang.Math.max(1, 2) == 2


@pytest.mark.parametrize("xml", [PROCESS_XML, EXIT_XML], ids=["process", "exit"])
def test_xml_decoder_is_denied(guarded: gatun.GatunClient, xml: bytes) -> None:
    stream = guarded.jvm.java.io.ByteArrayInputStream(xml)
    with pytest.raises(JavaSecurityException, match=r"java\.beans\.XMLDecoder"):
        guarded.jvm.java.beans.XMLDecoder(stream).readObject()
    with pytest.raises(JavaSecurityException, match=r"java\.beans"):
        guarded.jvm.java.lang.Class.forName("java.beans.XMLDecoder")
    _still_alive(guarded)


def test_jshell_is_denied(guarded: gatun.GatunClient) -> None:
    with pytest.raises(JavaSecurityException, match=r"jdk\.jshell"):
        guarded.jvm.jdk.jshell.JShell.builder().executionEngine("local").build()
    _still_alive(guarded)


def test_shutdown_halt_is_denied_however_reached(guarded: gatun.GatunClient) -> None:
    klass = guarded.jvm.java.lang.Class
    with pytest.raises(JavaSecurityException, match=r"java\.lang\.Shutdown"):
        klass.forName("java.lang.Shutdown")
    loader = klass.forName("java.lang.String").getClassLoader() or (
        guarded.jvm.java.lang.ClassLoader.getSystemClassLoader()
    )
    with pytest.raises(JavaSecurityException, match=r"java\.lang\.Shutdown"):
        loader.loadClass("java.lang.Shutdown")
    # Opening any private member of a JDK class is refused too.
    private = klass.forName("java.lang.String").getDeclaredMethod("isLatin1")
    with pytest.raises(JavaSecurityException, match=r"accessible"):
        private.setAccessible(True)
    with pytest.raises(JavaSecurityException, match=r"accessible"):
        private.trySetAccessible()
    _still_alive(guarded)


def test_raw_memory_is_denied(guarded: gatun.GatunClient) -> None:
    klass = guarded.jvm.java.lang.Class
    with pytest.raises(JavaSecurityException, match=r"sun\.misc\.Unsafe"):
        klass.forName("sun.misc.Unsafe")
    with pytest.raises(JavaSecurityException, match=r"sun\.misc\.Unsafe"):
        guarded.jvm.sun.misc.Unsafe.getUnsafe()
    with pytest.raises(JavaSecurityException, match=r"MemoryUtil"):
        guarded.jvm.org.apache.arrow.memory.util.MemoryUtil.putLong(8, 1)
    _still_alive(guarded)


def test_the_policy_holds_in_batches_and_async(guarded: gatun.GatunClient) -> None:
    with guarded.batch() as b:
        r = b.call_static("java.lang.Class", "forName", "java.lang.Shutdown")
    with pytest.raises(JavaSecurityException, match=r"java\.lang\.Shutdown"):
        r.get()

    async def attempt() -> None:
        async with await gatun.aconnect() as ac:
            with pytest.raises(JavaSecurityException, match=r"jdk\.jshell"):
                await ac.invoke_static_method("jdk.jshell.JShell", "create")

    asyncio.run(attempt())
    _still_alive(guarded)


def test_what_the_policy_leaves_alone(guarded: gatun.GatunClient) -> None:
    """JDK objects whose classes live in internal packages stay usable."""
    path = guarded.jvm.java.nio.file.Path.of("/tmp", "x")
    assert str(path.getFileName()) == "x"
    assert guarded.jvm.java.util.TimeZone.getTimeZone("UTC").getID() == "UTC"
    memory = guarded.jvm.java.lang.management.ManagementFactory.getMemoryMXBean()
    assert memory.getHeapMemoryUsage().getUsed() > 0
    server = guarded.jvm.java.lang.management.ManagementFactory
    with pytest.raises(JavaSecurityException, match=r"MBeanServer"):
        server.getPlatformMBeanServer().getMBeanCount()


def test_non_public_jdk_fields_are_read_not_written(guarded: gatun.GatunClient) -> None:
    """Upstream's README example reads a StringBuilder's non-public ``count``;
    writing such a field would break the JDK's invariants and is refused."""
    sb = guarded.create_object("java.lang.StringBuilder", "hello")
    assert guarded.get_fields(sb, ["count"]) == [5]
    assert guarded.get_field(sb, "count") == 5
    with pytest.raises(JavaSecurityException, match=r"AbstractStringBuilder\.count"):
        guarded.set_field(sb, "count", 0)
    assert str(sb) == "hello"
    # The way past it stays closed: a JDK member made accessible by hand.
    field = guarded.jvm.java.lang.Class.forName("java.lang.AbstractStringBuilder").getDeclaredField(
        "count"
    )
    with pytest.raises(JavaSecurityException, match="accessible"):
        field.setAccessible(True)
