"""Packaging: one version everywhere, the licence and typing marker shipped, the metadata
an index shows, and the sdist and wheel as built, installed and run."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import dataforce_orm
from dataforce_orm import _version

ROOT = Path(__file__).resolve().parent.parent


def test_the_version_is_single_sourced() -> None:
    installed = importlib.metadata.version("dataforce-orm")
    assert installed == _version.__version__ == dataforce_orm.__version__


def test_metadata_names_the_licence_and_the_pythons() -> None:
    meta = importlib.metadata.metadata("dataforce-orm")
    classifiers = meta.get_all("Classifier") or []
    for minor in ("3.10", "3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {minor}" in classifiers
    assert meta["Requires-Python"] == ">=3.10"
    assert "MIT" in (ROOT / "LICENSE").read_text()
    assert (ROOT / "dataforce_orm" / "py.typed").exists()


def test_the_changelog_has_this_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in text
    assert f"## [{dataforce_orm.__version__}]" in text


# -- metadata for the index ------------------------------------------------------------------

PROJECT_URLS = ("Homepage", "Documentation", "Source", "Changelog")


def test_spdx_licence_and_project_urls() -> None:
    meta = importlib.metadata.metadata("dataforce-orm")
    assert meta["License-Expression"] == "MIT"
    assert not [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert set(urls) == set(PROJECT_URLS)
    assert all(u.startswith("https://") for u in urls.values())
    site = re.search(r"^site_url: (\S+)$", (ROOT / "mkdocs.yml").read_text(), re.M)
    repo = re.search(r"^repo_url: (\S+)$", (ROOT / "mkdocs.yml").read_text(), re.M)
    assert site and repo and (site[1], repo[1]) == (urls["Documentation"], urls["Source"])


def test_the_long_description_has_only_absolute_links() -> None:
    text = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)]+)\)", text) + re.findall(r"<(\w+://[^>]+)>", text)
    assert links and all(re.match(r"https?://", link) for link in links), [
        link for link in links if not re.match(r"https?://", link)]


# -- the built artifacts, installed ---------------------------------------------------------


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist, and the wheel built from it (as an index's users get them)."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def clean_env(**extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("DFS_", "LUML_", "PYTHON"))}
    return {**environ, **extra}


def test_the_sdist_carries_what_its_tests_read(dist: Path, tmp_path: Path) -> None:
    (sdist,) = dist.glob("dataforce_orm-*.tar.gz")
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp_path, filter="data")
    (top,) = tmp_path.iterdir()
    for path in ("CHANGELOG.md", "LICENSE", "README.md", "mkdocs.yml", "docs/cli.md",
                 "examples", "benchmarks", "tests/conftest.py", "dataforce_orm/py.typed",
                 "scripts/check"):
        assert (top / path).exists(), path
    assert not list(top.rglob("__pycache__"))
    # the tests that read the docs, the examples and the changelog pass from it
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_docs.py",
         "tests/test_packaging.py::test_the_changelog_has_this_version",
         "tests/test_packaging.py::test_the_long_description_has_only_absolute_links"],
        cwd=top, env=clean_env(PYTHONPATH=str(top)), capture_output=True, text=True,
        timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_the_wheel_installs_and_runs_in_a_fresh_venv(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("dataforce_orm-*.whl")
    with zipfile.ZipFile(wheel) as z:
        tops = {name.split("/")[0] for name in z.namelist()}
    assert tops == {"dataforce_orm", f"dataforce_orm-{_version.__version__}.dist-info"}
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    # (this environment's pip installs into it; the download cache is shared)
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python),
                                "install", "-q", "--disable-pip-version-check", str(wheel)],
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr[-3000:]
    env = clean_env(HOME=str(tmp_path))
    helped = subprocess.run([str(venv / "bin" / "dataforce-orm"), "--help"], env=env,
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: dataforce-orm")
    demo = subprocess.run([str(python), "-m", "dataforce_orm", "demo"], env=env,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert (demo.returncode, demo.stderr) == (0, ""), demo.stdout + demo.stderr
    assert "Done:" in demo.stdout
    where = subprocess.run([str(python), "-c", "import dataforce_orm; print(dataforce_orm."
                            "__file__)"], env=env, capture_output=True, text=True, timeout=60,
                           cwd=tmp_path)
    assert where.stdout.startswith(str(venv))  # the wheel's copy, not the work tree's
