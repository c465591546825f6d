"""Packaging: one version everywhere, the licence and typing marker shipped."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import dataforce_orm
from dataforce_orm import _version

ROOT = Path(__file__).resolve().parent.parent


def test_the_version_is_single_sourced() -> None:
    installed = importlib.metadata.version("dataforce-orm")
    assert installed == _version.__version__ == dataforce_orm.__version__


def test_metadata_names_the_licence_and_the_pythons() -> None:
    meta = importlib.metadata.metadata("dataforce-orm")
    classifiers = meta.get_all("Classifier") or []
    assert "License :: OSI Approved :: MIT License" in classifiers
    for minor in ("3.10", "3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {minor}" in classifiers
    assert meta["Requires-Python"] == ">=3.10"
    assert "MIT" in (ROOT / "LICENSE").read_text()
    assert (ROOT / "dataforce_orm" / "py.typed").exists()


def test_the_changelog_has_this_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in text
    assert f"## [{dataforce_orm.__version__}]" in text
