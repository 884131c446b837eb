"""Tests for rosmo.training.run_logging: CSV rows and columns, resume truncation, TensorBoard, JSON, progress."""

import csv
import io
import json
import os
import struct
import sys
import types

import jax.numpy as jnp
import numpy as np
import pytest

from rosmo.training.run_logging import (
    ProgressBar,
    RunLogger,
    format_value,
    to_jsonable,
    truncate_csv,
    write_json_atomic,
)


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_format_value_is_compact():
    assert format_value(3.0) == "3"
    assert format_value(-2.0) == "-2"
    assert format_value(0.5) == "0.5"
    assert format_value(0.123456789) == "0.1234568"
    assert format_value(1e-9) == "1e-09"
    assert format_value(1234567.0) == "1234567"
    assert format_value(float("nan")) == "nan"
    assert format_value(float("inf")) == "inf"


def test_csv_append_and_scalar_types(tmp_path):
    log = RunLogger(str(tmp_path), use_tensorboard=False)
    log.write(1, {"loss": np.float32(0.25), "lr": 7e-4})
    log.write(2, {"loss": jnp.asarray(0.125), "lr": 7e-4})
    log.close()
    assert _rows(tmp_path / "train.csv") == [["step", "loss", "lr"], ["1", "0.25", "0.0007"], ["2", "0.125", "0.0007"]]
    # a second logger on the same workdir (no resume) keeps appending under the same header
    log = RunLogger(str(tmp_path), use_tensorboard=False)
    log.write(3, {"lr": 1, "loss": 0.5})
    log.close()
    assert _rows(tmp_path / "train.csv")[-1] == ["3", "0.5", "1"]


def test_csv_union_of_columns_and_prefixes(tmp_path):
    log = RunLogger(str(tmp_path), use_tensorboard=False)
    log.write(10, {"loss": 1.5})
    log.write(20, {"loss": 1.0, "grad_norm": 3.0})
    log.write(30, {"grad_norm": 2.0})
    log.write(20, {"return": 4.0, "episodes": 8}, prefix="eval")
    log.close()
    assert _rows(tmp_path / "train.csv") == [
        ["step", "loss", "grad_norm"],
        ["10", "1.5", ""],
        ["20", "1", "3"],
        ["30", "", "2"],
    ]
    assert _rows(tmp_path / "eval.csv") == [["step", "return", "episodes"], ["20", "4", "8"]]


def test_resume_truncates_future_rows(tmp_path):
    log = RunLogger(str(tmp_path), use_tensorboard=False)
    for step in (100, 200, 300, 400):
        log.write(step, {"loss": step / 100})
    log.write(200, {"return": 1.0}, prefix="eval")
    log.write(400, {"return": 2.0}, prefix="eval")
    log.close()
    with open(tmp_path / "other.csv", "w") as f:  # a CSV that is not ours is left alone
        f.write("episode,return\n1,5\n999,6\n")

    log = RunLogger(str(tmp_path), use_tensorboard=False, resume_step=200)
    assert _rows(tmp_path / "train.csv") == [["step", "loss"], ["100", "1"], ["200", "2"]]
    assert _rows(tmp_path / "eval.csv") == [["step", "return"], ["200", "1"]]
    log.write(300, {"loss": 2.5})
    log.close()
    assert _rows(tmp_path / "train.csv") == [["step", "loss"], ["100", "1"], ["200", "2"], ["300", "2.5"]]
    assert _rows(tmp_path / "other.csv") == [["episode", "return"], ["1", "5"], ["999", "6"]]
    assert truncate_csv(str(tmp_path / "train.csv"), 0) == 3
    assert _rows(tmp_path / "train.csv") == [["step", "loss"]]


def test_bad_metrics_are_named(tmp_path):
    log = RunLogger(str(tmp_path), use_tensorboard=False)
    with pytest.raises(TypeError, match="'q_values'.*shape \\(3,\\)"):
        log.write(1, {"q_values": np.zeros(3)})
    with pytest.raises(TypeError, match="'name'"):
        log.write(1, {"name": "catch"})
    with pytest.raises(ValueError, match="reserved"):
        log.write(1, {"step": 1.0})
    log.close()
    assert not os.path.exists(tmp_path / "train.csv")


def _read_events(directory):
    """Parse TFRecord event files (u64 length, u32 crc, payload, u32 crc) with tensorboardX's protos."""
    from tensorboardX.proto import event_pb2

    events = []
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), "rb") as f:
            data = f.read()
        pos = 0
        while pos < len(data):
            (length,) = struct.unpack("<Q", data[pos : pos + 8])
            events.append(event_pb2.Event.FromString(data[pos + 12 : pos + 12 + length]))
            pos += 12 + length + 4
    return events


def test_tensorboard_event_file_has_scalars(tmp_path):
    log = RunLogger(str(tmp_path), use_tensorboard=True)
    log.write(5, {"loss": 0.75}, prefix="train")
    log.write(5, {"return": 9.0}, prefix="eval")
    log.write(6, {"loss": 0.5})
    log.close()
    events = [name for name in os.listdir(tmp_path / "tb") if name.startswith("events.out.tfevents")]
    assert len(events) == 1
    scalars = [(e.step, v.tag, v.simple_value) for e in _read_events(tmp_path / "tb") for v in e.summary.value]
    assert scalars == [(5, "train/loss", 0.75), (5, "eval/return", 9.0), (6, "train/loss", 0.5)]
    # a resumed logger asks TensorBoard to purge everything after the resume step
    RunLogger(str(tmp_path), resume_step=5).close()
    purges = [e.step for e in _read_events(tmp_path / "tb") if e.HasField("session_log")]
    assert purges == [6]


def test_wandb_missing_gives_install_hint(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # makes `import wandb` raise ImportError
    with pytest.raises(ImportError, match="pip install wandb"):
        RunLogger(str(tmp_path), use_tensorboard=False, use_wandb=True)


def test_wandb_receives_prefixed_metrics_and_resumes_same_run(tmp_path, monkeypatch):
    calls = []

    class FakeRun:
        id = "abc123"

        def log(self, data, step):
            calls.append(("log", data, step))

        def finish(self):
            calls.append(("finish",))

    def init(**kwargs):
        calls.append(("init", kwargs))
        return FakeRun()

    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(init=init))
    log = RunLogger(str(tmp_path), use_tensorboard=False, use_wandb=True, wandb_project="rosmo", config={"k": (3, 3)})
    log.write(7, {"loss": np.float32(0.5)})
    log.close()
    assert calls[0][1]["project"] == "rosmo" and calls[0][1]["config"] == {"k": [3, 3]} and calls[0][1]["id"] is None
    assert calls[1:] == [("log", {"train/loss": 0.5}, 7), ("finish",)]
    assert (tmp_path / "wandb_id.txt").read_text() == "abc123"
    RunLogger(str(tmp_path), use_tensorboard=False, use_wandb=True, resume_step=7).close()
    assert calls[3][1]["id"] == "abc123" and calls[3][1]["resume"] == "allow"


def test_write_json_atomic_leaves_no_temp_file(tmp_path):
    path = tmp_path / "sub" / "summary.json"
    write_json_atomic(str(path), {"score": np.float32(1.5), "steps": np.int64(10), "seeds": (0, 1)})
    assert json.loads(path.read_text()) == {"score": 1.5, "steps": 10, "seeds": [0, 1]}
    write_json_atomic(str(path), {"score": 2.0})
    assert json.loads(path.read_text()) == {"score": 2.0}
    with pytest.raises(TypeError, match="not JSON serializable"):
        write_json_atomic(str(path), {"bad": object()})
    assert json.loads(path.read_text()) == {"score": 2.0}  # old content survives a failed write
    assert os.listdir(tmp_path / "sub") == ["summary.json"]
    assert to_jsonable({"a": np.arange(2)}) == {"a": [0, 1]}


def test_progress_bar_prints_status_lines_when_not_a_tty():
    out = io.StringIO()  # not a TTY
    bar = ProgressBar(total=100, initial=20, desc="train", file=out)
    for _ in range(80):
        bar.update(1, loss=0.5, eval=None)  # None fields are not shown
    bar.update(0, eval_return=3.0)
    bar.close()
    lines = out.getvalue().splitlines()
    # 20% done at start: one line per further 10% -> 30%, 40%, ..., 100%
    assert [line.split(" ")[1] for line in lines] == [f"{p}/100" for p in range(30, 101, 10)]
    assert lines[0].startswith("train: 30/100 (30%)")
    assert lines[-1].endswith("| loss=0.5")
    assert bar.n == 100 and bar.postfix == {"loss": 0.5, "eval": None, "eval_return": 3.0}


def test_progress_bar_forced_and_disabled():
    out = io.StringIO()
    with ProgressBar(total=10, desc="eval", disable=False, file=out) as bar:  # forced tqdm bar
        bar.update(10, episode_return=2.0)
    assert "eval" in out.getvalue() and "10/10" in out.getvalue() and "episode_return=2" in out.getvalue()
    out = io.StringIO()
    with ProgressBar(total=10, disable=True, file=out) as bar:
        bar.update(10)
    assert out.getvalue() == ""
