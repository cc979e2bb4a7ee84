"""The public modules stay mypy-clean (configuration in setup.cfg; mypy is a test dependency)."""

import subprocess
import sys


def test_mypy_clean():
    out = subprocess.run([sys.executable, "-m", "mypy"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
