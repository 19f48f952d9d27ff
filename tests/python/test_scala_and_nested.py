"""Scala objects and companions, and nested Java classes, spelled as Py4J
code (seed 001) spells them (issue 16).

Scala compiles ``object X`` to a class ``X$`` whose ``MODULE$`` field holds
the one instance, plus a class ``X`` of static forwarders when it can. The
Scala library comes from the pyspark installed for the Spark tests.
"""

from __future__ import annotations

import glob
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import gatun
from gatun import GatunClient, JavaObject, java_import

pytestmark = pytest.mark.timeout(120)


def _scala_library() -> str:
    site = Path(sys.prefix) / "lib"
    jars = sorted(glob.glob(str(site / "python*/site-packages/pyspark/jars/scala-library-*.jar")))
    if not jars:
        pytest.fail(
            "scala-library is not in .venv (it comes with pyspark, a development "
            "requirement): run scripts/bootstrap"
        )
    return jars[-1]


@pytest.fixture(scope="module")
def scala() -> Iterator[GatunClient]:
    own = gatun.connect(classpath=[_scala_library()])
    yield own
    own.close()


# -- Scala objects and companions --------------------------------------------------


def test_a_scala_object_through_its_static_forwarders(scala: GatunClient) -> None:
    nil = scala.jvm.scala.collection.immutable.Nil
    assert nil.size() == 0
    assert nil.isEmpty() is True


def test_module_dollar_is_the_object_itself(scala: GatunClient) -> None:
    predef = getattr(getattr(scala.jvm.scala, "Predef$"), "MODULE$")
    assert isinstance(predef, JavaObject)
    assert predef.getClass().getName() == "scala.Predef$"
    nil = getattr(getattr(scala.jvm.scala.collection.immutable, "Nil$"), "MODULE$")
    assert nil.getClass().getName() == "scala.collection.immutable.Nil$"
    assert nil.size() == 0


def test_seed_001s_get_scala_object_helper_works_unchanged(scala: GatunClient) -> None:
    def get_scala_object(reference: str) -> JavaObject:
        cls = scala.jvm.java.lang.Class.forName(reference + "$")
        field = cls.getDeclaredField("MODULE$")
        return field.get(None)

    option = get_scala_object("scala.Option")
    assert option.getClass().getName() == "scala.Option$"
    assert option.apply(5).get() == 5


def test_companion_apply_without_a_static_forwarder(scala: GatunClient) -> None:
    # scala.math.BigDecimal has an instance apply(MathContext), so Scala emits
    # no static forwarder for the companion's apply(String): the call goes to
    # the companion object (BigDecimal$.MODULE$).
    big = scala.jvm.scala.math.BigDecimal.apply("1.25")
    assert big.getClass().getName() == "scala.math.BigDecimal"
    assert big.toString() == "1.25"
    assert big.bigDecimal().toPlainString() == "1.25"
    assert getattr(big, "$plus")(big).toString() == "2.50"  # Scala's + is $plus


def test_option_apply_and_case_classes(scala: GatunClient) -> None:
    some = scala.jvm.scala.Option.apply(5)
    assert some.getClass().getName() == "scala.Some"
    assert some.get() == 5
    assert scala.jvm.scala.Option.apply(None).isEmpty() is True
    assert scala.jvm.scala.Some("x").get() == "x"
    assert scala.jvm.scala.util.Random(42).nextInt(10) in range(10)


def test_java_import_of_a_scala_package(scala: GatunClient) -> None:
    view = scala.jvm
    java_import(view, "scala.math.*")
    assert view.BigDecimal.apply("2").toString() == "2"


def test_a_scala_object_as_the_entry_point() -> None:
    with gatun.connect(classpath=[_scala_library()], entry_point="scala.Predef") as own:
        predef = own.entry_point
        assert predef.getClass().getName() == "scala.Predef$"


def test_a_missing_companion_method_still_names_the_class(scala: GatunClient) -> None:
    with pytest.raises(gatun.JavaNoSuchMethodException, match="noSuchThing"):
        scala.jvm.scala.math.BigDecimal.noSuchThing("1")


# -- nested Java classes ------------------------------------------------------------


def test_nested_classes_with_dots_and_with_dollars(client: GatunClient) -> None:
    jvm = client.jvm
    entry = jvm.java.util.AbstractMap.SimpleEntry("k", 1)
    assert entry.getClass().getName() == "java.util.AbstractMap$SimpleEntry"
    assert (entry.getKey(), entry.getValue()) == ("k", 1)
    dollar = getattr(jvm.java.util, "AbstractMap$SimpleEntry")("k", 2)
    assert dollar.getValue() == 2
    assert jvm.java.util.Map.entry("a", 1).getKey() == "a"
    assert isinstance(jvm.java.util.Map.Entry.comparingByKey(), JavaObject)


def test_nested_class_statics_and_a_char_argument(client: GatunClient) -> None:
    block = client.jvm.java.lang.Character.UnicodeBlock
    assert str(block.BASIC_LATIN) == "BASIC_LATIN"
    # Python has no char: a one-character str is one (Py4J does the same).
    assert str(block.of("a")) == "BASIC_LATIN"
    assert str(block.of(0x3B1)) == "GREEK"
    assert str(getattr(client.jvm.java.lang, "Character$UnicodeBlock").forName("GREEK")) == "GREEK"
    assert str(client.jvm.java.lang.Thread.State.RUNNABLE) == "RUNNABLE"


def test_java_import_of_a_nested_class(client: GatunClient) -> None:
    view = client.jvm
    java_import(view, "java.util.AbstractMap.SimpleEntry")
    assert view.SimpleEntry("x", 3).getKey() == "x"
