"""`rosmo report` lists every run it cannot read and every duplicate, with the reason; malformed eval.csv rows are
left out and said so; nothing is skipped silently and nothing ends in a traceback.

Unreadable files are made with chmod 000 and read in a user namespace (`unshare --user --map-user=1000`):
the tests run as root, which ignores permission bits."""

import contextlib
import io
import os
import shutil
import subprocess
import sys

import pytest

from rosmo.cli import main
from rosmo.report import build  # noqa: F401  (imported at collection: the library's loggers bind pytest's streams then)
from tests.report.synthetic import write_run

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STEPS = [10, 20, 30]


def _sweep(root):
    point = {"unroll_steps": 1}
    for seed, score in [(0, 0.2), (1, 0.4), (2, 0.6)]:
        write_run(root, f"unroll_steps=1,seed={seed}", point, "catch", seed, STEPS, [0.0, 0.1, score])
    write_run(root, "unroll_steps=1,seed=0,again", point, "catch", 0, STEPS, [0.0, 0.1, 0.9])  # seed 0 twice
    for seed in (0, 1, 2):
        write_run(root, f"unroll_steps=3,seed={seed}", {"unroll_steps": 3}, "catch", seed, STEPS, [0.0, 0.3, 0.5])
    os.symlink(os.path.join(root, "no-such-run"), os.path.join(root, "linked-run"))
    with open(os.path.join(root, "unroll_steps=3,seed=2", "summary.json"), "w") as f:
        f.write('{"env": "catch", "final_ev')  # cut short
    with open(os.path.join(root, "unroll_steps=3,seed=1", "eval.csv"), "a") as f:
        f.write("40,100,0.1\n50,100,0.9,0.95\n60,10")  # a row short of fields, a good one, a write cut short


def test_report_lists_unreadable_runs_duplicates_and_bad_rows(tmp_path):
    root = str(tmp_path / "sweep")
    _sweep(root)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["report", root, "--no-plots", "--reps", "200"])
    assert code == 0, err.getvalue()
    report = open(os.path.join(root, "report.md")).read()
    assert report in out.getvalue()  # the console shows what report.md says
    assert "8 runs (5 finished, 2 unreadable, 1 duplicate)" in report
    assert "- `linked-run`: unreadable: a link to " in report and "which does not exist" in report
    assert "- `unroll_steps=3,seed=2`: unreadable: summary.json: not valid JSON" in report
    assert (
        "- `unroll_steps=1,seed=0,again`: duplicate: same group (unroll_steps=1), env and seed (0) as "
        "`unroll_steps=1,seed=0`, which is scored; this one is not"
    ) in report
    assert "- `unroll_steps=3,seed=1`: eval.csv line 5 left out: 3 fields, the header has 4" in report
    assert "- `unroll_steps=3,seed=1`: eval.csv line 7 left out: the last line has no line end" in report
    groups = open(os.path.join(root, "groups.csv")).read().splitlines()
    row = next(line for line in groups if line.startswith("unroll_steps=1,")).split(",")
    header = groups[0].split(",")
    assert row[header.index("seeds")] == "3"  # seeds 0, 1, 2: the duplicate is not one of them
    assert row[header.index("unfinished")] == "0" and abs(float(row[header.index("mean")]) - 0.4) < 1e-9
    results = open(os.path.join(root, "results.csv")).read()
    assert ",40," not in results and ",60," not in results and ",50," in results


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux)")
def test_report_as_an_unprivileged_user_lists_unreadable_places(tmp_path):
    root = str(tmp_path / "sweep")
    _sweep(root)
    os.chmod(os.path.join(root, "unroll_steps=1,seed=1"), 0)  # a run directory nobody may read
    os.chmod(os.path.join(root, "unroll_steps=3,seed=0", "summary.json"), 0)
    out = str(tmp_path / "out")
    os.makedirs(out)
    for path in (str(tmp_path), root, out):
        os.chmod(path, 0o777)
    env = dict(os.environ, PYTHONPATH=ROOT, MPLCONFIGDIR=str(tmp_path / "mpl"))
    probe = subprocess.run(["unshare", "--user", "--map-user=1000", "true"], capture_output=True)
    if probe.returncode:
        pytest.skip("user namespaces are not available here")
    try:
        done = subprocess.run(
            [
                "unshare",
                "--user",
                "--map-user=1000",
                sys.executable,
                "-m",
                "rosmo.cli",
                "report",
                root,
                "--out",
                out,
                "--no-plots",
                "--reps",
                "200",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        report = open(os.path.join(out, "report.md")).read()
        assert "- `unroll_steps=1,seed=1`: unreadable: cannot list it (Permission denied)" in report
        assert "- `unroll_steps=3,seed=0`: unreadable: summary.json: cannot read it (Permission denied)" in report

        blocked = str(tmp_path / "blocked")
        os.makedirs(blocked, mode=0o555)
        done = subprocess.run(
            [
                "unshare",
                "--user",
                "--map-user=1000",
                sys.executable,
                "-m",
                "rosmo.cli",
                "report",
                root,
                "--out",
                os.path.join(blocked, "report"),
                "--no-plots",
                "--reps",
                "200",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 2
        assert done.stderr.strip().splitlines() == [
            f"rosmo report: error: --out {blocked}/report: cannot write the report there (Permission denied: "
            f"{blocked}/report)"
        ]
    finally:
        os.chmod(os.path.join(root, "unroll_steps=1,seed=1"), 0o755)
