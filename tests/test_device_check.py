"""benchmarks/device_check.py at tiny size on the CPU: every line of the accelerator-day check is printed; and
benchmarks/device_check.sh hands its arguments and settings to it."""

import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_device_check():
    spec = importlib.util.spec_from_file_location("device_check", os.path.join(ROOT, "benchmarks", "device_check.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # end-to-end: four learners, the RL Unplugged loader (make test-fast skips it)
def test_device_check_runs_at_tiny_size_on_the_cpu(monkeypatch, capsys):
    # In this process (not through the shell script): the learners' eager and compiled programs are the test
    # suite's own tiny runs', so they are loaded rather than built again.
    device_check = _load_device_check()
    monkeypatch.setattr(sys, "argv", ["device_check.py", "--size", "tiny"])
    device_check.main()
    out = capsys.readouterr().out
    lines = {line[:34].strip(): line[34:] for line in out.splitlines()}
    for name in (
        "atari rosmo (batch 4)",
        "atari mzu N=20 (batch 4)",
        "minatar rosmo (batch 32)",
        "minatar mzu N=20 (batch 32)",
    ):
        assert "updates/s" in lines[name], out
        assert float(lines[name].split()[0]) > 0
    assert "data wait" in lines["rlu loader -> atari rosmo"]
    wait = float(lines["rlu loader -> atari rosmo"].split("data wait")[1].split("%")[0])
    assert 0.0 <= wait <= 100.0
    assert "peak RSS" in lines["peak device memory"] or "GiB peak" in lines["peak device memory"]
    assert lines["devices"].split("size ")[1].startswith("tiny")


def test_the_shell_script_runs_the_check_from_the_repo_root_with_its_settings(tmp_path):
    # A stand-in interpreter prints what it was given: the script's path and arguments, the directory, the settings.
    python = tmp_path / "python"
    python.write_text(
        "#!/bin/sh\n"
        'echo "args $*"\n'
        'echo "cwd $(pwd)"\n'
        'echo "pythonpath $PYTHONPATH"\n'
        'echo "preallocate $XLA_PYTHON_CLIENT_PREALLOCATE"\n'
    )
    python.chmod(0o755)
    env = dict(os.environ, PYTHON=str(python), PYTHONPATH="/elsewhere")
    env.pop("XLA_PYTHON_CLIENT_PREALLOCATE", None)
    out = subprocess.run(
        ["bash", os.path.join(ROOT, "benchmarks", "device_check.sh"), "--size", "tiny"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "args benchmarks/device_check.py --size tiny",
        f"cwd {ROOT}",
        f"pythonpath {ROOT}:/elsewhere",
        "preallocate false",
    ]
