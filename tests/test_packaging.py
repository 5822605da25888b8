"""The installable package: declared dependencies agree with the lock file; the wheel carries the package and its
shipped checkpoint, nothing else, and runs from any folder."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import PackageNotFoundError, version

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.helpers import ROOT

CHECKPOINT = "mural_inpaint/checkpoints/muralxgan-default"
# what a wheel build must not copy from the checkout (large, local or generated)
NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", "runs", "outputs", "build", "dist", "*.egg-info", "__pycache__",
                                     ".*_cache", ".hypothesis", ".benchmarks", "muralxgan.db*")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _lock_pins() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            requirement = Requirement(line)
            (specifier,) = requirement.specifier
            assert specifier.operator == "==", f"requirements.txt pins exact versions: {line}"
            pins[canonicalize_name(requirement.name)] = Version(specifier.version)
    return pins


def test_declared_dependencies_admit_every_pin_of_the_lock_file():
    project = _pyproject()["project"]
    declared = [Requirement(text) for text in project["dependencies"]]
    declared += [Requirement(text) for extra in ("train", "eval") for text in project["optional-dependencies"][extra]]
    ranges = {canonicalize_name(r.name): r for r in declared}
    pins = _lock_pins()
    assert set(pins) <= set(ranges), f"pinned in requirements.txt, not declared: {sorted(set(pins) - set(ranges))}"
    for name, pinned in pins.items():
        assert ranges[name].specifier.contains(pinned), f"{name}=={pinned} is outside {ranges[name]}"
    runtime = {canonicalize_name(Requirement(text).name) for text in project["dependencies"]}
    assert {"accelerate", "pyyaml", "tensorboard"}.isdisjoint(runtime)  # training only: the train extra
    assert project["scripts"] == {"muralxgan": "mural_inpaint.cli:main"}


def _build_wheel(destination) -> zipfile.ZipFile:
    """``pip wheel . --no-deps`` on a copy of the checkout (the checkout gets no build/ or egg-info)."""
    source = destination / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    command = [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-q", "-w", str(destination / "dist")]
    try:  # offline with the setuptools already here when it can build wheels itself; else pip fetches one
        if Version(version("setuptools")) >= Version("70.1"):
            command.append("--no-build-isolation")
    except PackageNotFoundError:
        pass
    done = subprocess.run(command, cwd=source, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = (destination / "dist").glob("muralxgan-*.whl")
    return zipfile.ZipFile(wheel)


@pytest.mark.slow
def test_wheel_carries_the_package_and_checkpoint_and_runs_from_any_folder(tmp_path):
    with _build_wheel(tmp_path) as wheel:
        names = wheel.namelist()
        dist_info = next(n.split("/")[0] for n in names if re.match(r"muralxgan-[^/]+\.dist-info/", n))
        assert {n.split("/")[0] for n in names} == {"mural_inpaint", dist_info}  # no train/ evaluation/ tests/ data
        assert "mural_inpaint/cli.py" in names and "mural_inpaint/app/server.py" in names
        for path in (ROOT / CHECKPOINT).iterdir():
            packed = wheel.read(f"{CHECKPOINT}/{path.name}")
            assert hashlib.sha256(packed).digest() == hashlib.sha256(path.read_bytes()).digest(), path.name
        shipped = {n for n in names if n.startswith(CHECKPOINT)}
        assert shipped == {f"{CHECKPOINT}/{p.name}" for p in (ROOT / CHECKPOINT).iterdir()}
        entry_points = wheel.read(f"{dist_info}/entry_points.txt").decode()
        assert re.search(r"^muralxgan = mural_inpaint\.cli:main$", entry_points, re.M)
        metadata = wheel.read(f"{dist_info}/METADATA").decode()
        assert {"train", "eval", "dev"} <= set(re.findall(r"^Provides-Extra: (\S+)$", metadata, re.M))
        wheel.extractall(tmp_path / "site")  # what `pip install` puts in site-packages for a pure wheel

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "MURALXGAN_CHECKPOINT"} | {"PYTHONPATH": str(tmp_path / "site")}
    done = subprocess.run([sys.executable, "-c", "from mural_inpaint.cli import main; raise SystemExit(main())",
                           "models"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("muralxgan"))
    assert line.startswith("muralxgan (default):")
    assert line.endswith(f"[checkpoint: {tmp_path / 'site' / CHECKPOINT}]")  # the installed copy, not the checkout
