"""Issue 15, item 1: the wheel is the whole desk. Built from the sources, installed in a fresh virtualenv,
run from an empty folder: `kemala db upgrade` finds its migrations and data without the source tree."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

# Uses no database of the suite: runs in the SQLite half only (see tests/conftest.py).
pytestmark = pytest.mark.once

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("bot", "migrations", "pyproject.toml", "setup.py", "MANIFEST.in", "README.md")


@pytest.mark.slow
def test_a_built_wheel_upgrades_and_lists_from_a_fresh_venv(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:  # a copy: building must not depend on (or litter) the working tree
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "_migrations"))
        else:
            shutil.copy2(path, src / name)
    dist = tmp_path / "dist"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(dist), str(src)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    wheel = next(dist.glob("kemala_desk-*.whl"))

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q",
                              str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    # The dependencies come from this test's environment (no network here); the desk itself only from the
    # wheel: a path line in a .pth does not run that folder's own .pth files (this checkout's editable hook).
    fresh_site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                     capture_output=True, text=True, check=True).stdout.strip())
    (fresh_site / "_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")

    run = tmp_path / "run"
    run.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEMALA_", "PYTHON"))}
    env["KEMALA_DATABASE_URL"] = f"sqlite:///{run / 'kemala.db'}"
    where = subprocess.run([str(py), "-c", "import bot, bot.db; print(bot.__file__); print(bot.db.MIGRATIONS_DIR)"],
                           capture_output=True, text=True, env=env, cwd=run, timeout=60)
    bot_file, migrations = where.stdout.split()
    assert bot_file.startswith(str(venv)) and migrations.startswith(str(venv)), where.stdout + where.stderr

    kemala = venv / "bin" / "kemala"
    upgrade = subprocess.run([str(kemala), "db", "upgrade"], capture_output=True, text=True, env=env, cwd=run,
                             timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr
    assert "49 agencies added" in upgrade.stdout  # the 48 of 2017 and the triage desk
    listed = subprocess.run([str(kemala), "agencies", "list"], capture_output=True, text=True, env=env, cwd=run,
                            timeout=120)
    assert listed.returncode == 0, listed.stderr
    codes = {line.split()[0] for line in listed.stdout.splitlines() if line.strip()}
    assert {"dpubmck", "dinkes", "triase"} <= codes and len(codes) >= 49
    assert sorted(p.name for p in run.iterdir() if not p.name.startswith("kemala.db")) == []
