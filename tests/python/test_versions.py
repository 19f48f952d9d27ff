"""One release, one version: the Cargo workspace (which the Python package
takes its version from), java/pom.xml (the server jar's manifest) and the
installed ``gatun.__version__`` agree, so ``python -m gatun version`` never
shows a jar from another release. Reads files only; no JVM."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import gatun
from gatun._cli.version import jar_version
from gatun._launch_support import find_server_jar
from gatun.exceptions import BridgeStartupError

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

_REPO = Path(__file__).resolve().parents[2]


_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def _cargo_version() -> str:
    with open(_REPO / "Cargo.toml", "rb") as f:
        return tomllib.load(f)["workspace"]["package"]["version"]


def _pom_version() -> str:
    version = ET.parse(_REPO / "java" / "pom.xml").getroot().find("m:version", _POM_NS)
    assert version is not None, "java/pom.xml has no <version>"
    assert version.text, "java/pom.xml has an empty <version>"
    return version.text.strip()


def test_pom_is_a_release_version_equal_to_cargo() -> None:
    assert "SNAPSHOT" not in _pom_version()
    assert _pom_version() == _cargo_version()


def test_python_package_takes_the_cargo_version() -> None:
    with open(_REPO / "pybindings" / "Cargo.toml", "rb") as f:
        assert tomllib.load(f)["package"]["version"] == {"workspace": True}
    assert gatun.__version__ == _cargo_version(), (
        "the installed gatun-rs is from another version: run scripts/build"
    )


def test_built_jar_carries_the_release_version() -> None:
    try:
        jar = find_server_jar()  # the jar the package runs
    except BridgeStartupError as e:
        pytest.skip(f"no server jar: {e}")
    assert jar_version(jar) == _pom_version(), f"{jar} is from another version: run scripts/build"
