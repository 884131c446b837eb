"""The sweep's live line: ETA from finished and running runs, counts, one line per finished run."""

import io

import pytest

from rosmo.sweep.progress import SweepProgress, estimate_eta, format_seconds


def test_estimate_eta():
    # nothing known yet
    assert estimate_eta(queued=3, running=[(10.0, 0.0)], finished_walls=[], workers=2) is None
    assert estimate_eta(queued=0, running=[], finished_walls=[], workers=2) == 0.0
    # finished runs took 100 s: 4 queued on 2 free workers -> 2 rounds of 100 s
    assert estimate_eta(queued=4, running=[], finished_walls=[90.0, 110.0], workers=2) == pytest.approx(200.0)
    # a running run half-way after 50 s needs 50 s more; its worker then takes one of the 3 queued runs
    assert estimate_eta(queued=3, running=[(50.0, 0.5)], finished_walls=[100.0], workers=2) == pytest.approx(200.0)
    # no run finished: a running run's own progress gives the run time (40 s at 25% -> 160 s per run)
    assert estimate_eta(queued=1, running=[(40.0, 0.25), (40.0, 0.25)], finished_walls=[], workers=2) == pytest.approx(
        280.0
    )
    # a run barely started counts as a typical run from now
    assert estimate_eta(queued=0, running=[(5.0, 0.01)], finished_walls=[60.0], workers=1) == pytest.approx(55.0)


def test_format_seconds():
    assert [format_seconds(s) for s in (9, 312, 3725, None)] == ["9s", "5m12s", "1h02m05s", "?"]


def test_progress_lines_in_a_log_file():
    out = io.StringIO()
    progress = SweepProgress(file=out, live=False, interval=3600)
    progress.start(total=4, skipped=1, workers=2)
    progress.update(queued=1, running={"a": (10.0, 0.5), "b": (5.0, 0.0)})
    progress.update(queued=1, running={"a": (11.0, 0.55), "b": (6.0, 0.0)})  # same counts: no new line
    progress.finished("/s/a", {"state": "done", "wall_seconds": 20.0})
    progress.finished("/s/b", {"state": "failed", "error": "DatasetError: no dataset"})
    progress.update(queued=0, running={"c": (1.0, 0.0)})
    progress.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == "sweep: 1 of 4 runs already done, skipped"
    assert lines[1].startswith("sweep: 1/4 done, 2 running, 0 failed, 1 queued | ") and lines[1].endswith(
        "eta 30s"
    )  # a: 10 s left, then the queued run (20 s)
    assert lines[2] == "[done] a (20s)"
    assert lines[3] == "[failed] b: DatasetError: no dataset  (log: /s/b/worker.log)"
    assert lines[4].startswith("sweep: 2/4 done, 1 running, 1 failed, 0 queued")
    assert lines[5].startswith("sweep: 2/4 done, 1 failed, ") and len(lines) == 6
