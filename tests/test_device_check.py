"""benchmarks/device_check.sh at tiny size on the CPU: every line of the accelerator-day check is printed."""

import pytest
import os
import subprocess
import sys

pytestmark = pytest.mark.slow  # end-to-end: runs jobs or subprocesses (make test-fast skips it)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_device_check_runs_at_tiny_size_on_the_cpu():
    env = dict(
        os.environ, DEVICE_CHECK_SIZE="tiny", PYTHON=sys.executable, JAX_PLATFORMS="cpu", DEVICE_CHECK_TIMEOUT="1500"
    )
    out = subprocess.run(
        ["bash", os.path.join(ROOT, "benchmarks", "device_check.sh")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = {line[:34].strip(): line[34:] for line in out.stdout.splitlines()}
    for name in (
        "atari rosmo (batch 4)",
        "atari mzu N=20 (batch 4)",
        "minatar rosmo (batch 32)",
        "minatar mzu N=20 (batch 32)",
    ):
        assert "updates/s" in lines[name], out.stdout
        assert float(lines[name].split()[0]) > 0
    assert "data wait" in lines["rlu loader -> atari rosmo"]
    wait = float(lines["rlu loader -> atari rosmo"].split("data wait")[1].split("%")[0])
    assert 0.0 <= wait <= 100.0
    assert "peak RSS" in lines["peak device memory"] or "GiB peak" in lines["peak device memory"]
