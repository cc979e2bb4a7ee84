#!/usr/bin/env python3
"""Build the distributables into dist/.

    python3 scripts/build.py wheel     # dist/sbws-<version>-py3-none-any.whl (python -m build)
    python3 scripts/build.py binary    # dist/sbws: one executable, no Python needed on the host

Each uses its own virtual environment under build/, installed from nothing,
so the result does not depend on what the developer has installed.  The
binary bundles the interpreter, numpy, orjson, aiohttp (with its C
extensions), uvloop, the dashboard and the API documents.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
DIST = ROOT / "dist"


def env(name: str, packages: list[str]) -> Path:
    path = BUILD / name
    python = path / "bin" / "python"
    if not python.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(path)
    subprocess.check_call([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip", *packages])
    return python


def wheel() -> Path:
    python = env("wheel-env", ["build"])
    out = BUILD / "wheel-out"
    shutil.rmtree(out, ignore_errors=True)
    subprocess.check_call([str(python), "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)])
    [built] = out.glob("sbws-*.whl")
    DIST.mkdir(exist_ok=True)
    target = DIST / built.name
    shutil.copy2(built, target)
    print(target)
    return target


def binary() -> Path:
    built_wheel = wheel()
    python = env("binary-env", ["pyinstaller", "uvloop", str(built_wheel)])
    subprocess.check_call([str(python), "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps", str(built_wheel)])
    work = BUILD / "pyinstaller"
    subprocess.check_call(
        [
            str(python), "-m", "PyInstaller", "--onefile", "--noconfirm", "--clean", "--name", "sbws",
            "--distpath", str(DIST), "--workpath", str(work), "--specpath", str(work),
            "--collect-data", "sbws", "--collect-submodules", "sbws",
            "--hidden-import", "uvloop", "--collect-submodules", "uvloop",
            str(ROOT / "scripts" / "sbws_main.py"),
        ],
        cwd=BUILD,
    )
    target = DIST / "sbws"
    print(target)
    return target


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("wheel", "binary"):
        sys.exit(__doc__)
    BUILD.mkdir(exist_ok=True)
    wheel() if sys.argv[1] == "wheel" else binary()
