"""The public modules stay mypy-clean (configuration in setup.cfg)."""

import shutil
import subprocess
import sys

import pytest


@pytest.mark.skipif(shutil.which("mypy") is None and subprocess.run([sys.executable, "-m", "mypy", "--version"],
                    capture_output=True).returncode != 0, reason="mypy not installed")
def test_mypy_clean():
    out = subprocess.run([sys.executable, "-m", "mypy"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
