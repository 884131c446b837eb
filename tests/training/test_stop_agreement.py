"""Multi-host stops: a signal is held until the next log step, where every process agrees to stop and save there."""

import os
import signal

import pytest

from rosmo.suites.configs.bsuite import get_config
from rosmo.training import loop
from rosmo.training.checkpoint import complete_steps
from rosmo.training.distributed import agreed_stop
from rosmo.signals import Stopped, StopSignals
from tests.conftest import make_episode, write_dataset


def test_a_held_signal_is_pending_until_agreed():
    with StopSignals(immediate=False) as signals:
        os.kill(os.getpid(), signal.SIGUSR2)  # no Stopped here
        assert signals.pending == signal.SIGUSR2
        with signals.deferred():
            pass  # nor at the end of a deferred block
    assert agreed_stop(signals.pending) == signal.SIGUSR2  # one process: its own signal
    assert agreed_stop(None) is None


@pytest.mark.parametrize(
    "at_once, saved_step", [(False, 4)]
)  # at once (one process): tests/training/test_reliability.py
@pytest.mark.slow
def test_training_stops_at_the_signal_or_at_the_next_log_step(tmp_path, monkeypatch, at_once, saved_step):
    data = write_dataset(tmp_path / "data", [make_episode(e, 6, obs_shape=(10, 5)) for e in range(4)])
    c = get_config("catch")
    c.update(  # tests/conftest.py TINY_CATCH_FLAGS' learner (batch 8, 11 bins, no warm-up): a compilation-cache hit
        dataset_dir=data,
        num_steps=10,
        batch_size=8,
        warmup_steps=0,
        log_every=2,
        eval_every=0,
        checkpoint_every=100,
        num_bins=11,
        use_tensorboard=False,
    )

    class Signalled(loop.Learner):  # SIGTERM arrives during the third update
        calls = 0

        def step(self, batch):
            Signalled.calls += 1
            if Signalled.calls == 3:
                os.kill(os.getpid(), signal.SIGTERM)
            return super().step(batch)

    monkeypatch.setattr(loop, "Learner", Signalled)
    monkeypatch.setattr(loop, "_stop_at_once", lambda: at_once)
    with pytest.raises(Stopped) as stopped:
        loop.train(c, str(tmp_path / "run"), progress=False)
    assert stopped.value.signum == signal.SIGTERM and stopped.value.exit_code == 143
    assert complete_steps(str(tmp_path / "run" / "checkpoints")) == [saved_step]
