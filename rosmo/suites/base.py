"""What an environment suite provides: its data, its online environments, its scores.

A suite (BSuite, Atari, ...) owns everything that depends on the family of
environments, so that training, `rosmo evaluate` and the dataset makers ask
the suite instead of branching on names:

    get_config(arg)                 the suite's default experiment config (`--config=<suite>:<arg>`)
    canonical_env(name)             one spelling per env ("pong" -> "Pong"); ValueError listing the choices
    validate(config)                the suite's own config fields
    dataset_spec(config)            DatasetSpec: observation shape/dtype, num_actions, metadata (env, references)
    make_batches(config, start)     iterator of batches of windows [B, K + n + 1, ...] for this process
    env_spec(env, metadata)         (observation shape, num_actions) of the online env
    make_env(env, seed, metadata, **options)  one dm_env environment (videos, Acme's EnvironmentLoop)
    play(...)                       `rosmo.evaluation.loops.Episodes` of many online episodes
    references(env, metadata)       the normalisation references, the primary one first
    eval_options(config)            suite-specific keyword arguments of `play` from a config

Suites whose data `rosmo deploy` collects online (`collects_online`: discrete actions, dm_env envs)
also provide

    online_metadata(env, reference) the metadata of data collected in `env` (its protocol, its references' inputs)
    write_episodes(out, env, episodes, metadata, description)  collected episodes as a dataset that
                                    `make_batches` reads alone or with others (`dataset_dir` = "a,b,...")

`metadata` is the dataset's metadata (as saved with every checkpoint), so a
checkpoint can be evaluated without its dataset. The suites import the data modules
(`rosmo.data`: TensorFlow and TFDS) inside the methods that read or write datasets, so
`rosmo evaluate` (without `--ope`) and `rosmo sweep` never load TensorFlow for nothing.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, NamedTuple, Optional, Sequence

import jax
import numpy as np

from rosmo.data.paths import check_dataset_directory, dataset_list
from rosmo.errors import ConfigError, DatasetError
from rosmo.evaluation.loops import Episodes


class Reference(NamedTuple):
    """Normalisation references: normalised(R) = (R - low) / (high - low)."""

    name: str  # short key: "dqn", "human"
    low: float  # e.g. a uniform-random policy's return
    high: float  # e.g. the behaviour / online DQN's return
    description: str  # where the numbers come from


class DatasetSpec(NamedTuple):
    """What a learner needs to build its networks, and what the run records about its data."""

    path: str
    observation_shape: tuple[int, ...]
    observation_dtype: np.dtype
    num_actions: int
    num_episodes: int
    num_steps: Optional[int]
    metadata: dict[str, Any]  # includes "env" (canonical name) and the references' inputs


class Suite:
    """Base class of the suites; every method is overridden by a concrete suite."""

    name: str = ""
    description: str = ""
    collects_online: bool = False
    """`rosmo deploy` collects this suite's data online with a window learner's policy (`online_metadata`,
    `write_episodes` and `make_env` returning a dm_env environment)."""

    def get_config(self, arg: str = ""):
        raise NotImplementedError

    def env_names(self) -> Sequence[str]:
        raise NotImplementedError

    def canonical_env(self, name: str) -> str:
        raise NotImplementedError

    def validate(self, config) -> None:
        del config

    def dataset_spec(self, config) -> DatasetSpec:
        raise NotImplementedError

    def make_batches(self, config, start_batch: int = 0) -> Iterator[dict[str, np.ndarray]]:
        raise NotImplementedError

    def batch_transform(self, config) -> Optional[Callable[[dict[str, Any]], dict[str, Any]]]:
        """Device-side preparation of `make_batches`' batches, jitted in front of the agent's loss (None: none)."""
        del config
        return None

    def env_spec(self, env: str, metadata: dict[str, Any]) -> tuple[tuple[int, ...], int]:
        raise NotImplementedError

    def make_env(self, env: str, seed: int, metadata: dict[str, Any], **options):
        raise NotImplementedError

    def play(
        self,
        env: str,
        act_fn,
        params,
        metadata: dict[str, Any],
        num_episodes: int,
        num_envs: int,
        seed: int,
        progress: bool = False,
        jitted_act=None,
        **options,
    ) -> Episodes:
        raise NotImplementedError

    def references(self, env: str, metadata: dict[str, Any]) -> list[Reference]:
        raise NotImplementedError

    def eval_options(self, config) -> dict[str, Any]:
        del config
        return {}

    def online_metadata(self, env: str, reference: dict[str, Any]) -> dict[str, Any]:
        """Metadata of data collected online in `env`: env, num_actions, observation_shape and the env's protocol
        (`reference`'s, a dataset's metadata, when it holds `env`; else the suite's default), so that `make_env`,
        `play` and `references` read it as they read a made dataset's."""
        raise NotImplementedError(f"suite {self.name}: no online collection")

    def write_episodes(
        self, out: str, env: str, episodes: list[dict[str, Any]], metadata: dict[str, Any], description: str
    ) -> dict[str, Any]:
        """Write RLDS `episodes` collected in `env` (`rosmo.data.collect`) as the dataset `out`, atomically
        (replacing an unfinished one), in a layout `make_batches` reads alone or together with others like it
        (`dataset_dir` = a comma-separated list); returns {"path", "episodes", "steps", "transitions"}."""
        raise NotImplementedError(f"suite {self.name}: no online collection")


def per_process_batch_size(global_batch_size: int) -> int:
    """This process's share of the global batch (multi-host: every process loads its share)."""
    count = jax.process_count()
    if global_batch_size % count:
        raise ConfigError(
            f"batch_size={global_batch_size} must be divisible by the number of processes ({count})", field="batch_size"
        )
    return global_batch_size // count


def check_dataset_metadata(
    meta: dict[str, Any], path: str, env: str, expected: str, required: Sequence[str] = ("num_actions", "env")
) -> None:
    """DatasetError unless the metadata holds every `required` field ("<path>: metadata has no 'num_actions' /
    'env' (expected <expected>)"); ConfigError naming `env` when it records another env."""
    if any(meta.get(k) is None for k in required):
        names = " / ".join(repr(k) for k in required)
        raise DatasetError(f"{path}: metadata has no {names} (expected {expected})")
    if meta.get("env") is not None and meta["env"] != env:
        raise ConfigError(
            f"env={env!r}: the dataset {path} holds {meta['env']!r} data "
            f"(set env={meta['env']} or another dataset_dir)",
            field="env",
        )


def train_layout_spec(config, expected: str, required: Sequence[str] = ("num_actions", "env")) -> DatasetSpec:
    """`DatasetSpec` of `config.dataset_dir`, one or several datasets in the generic `train` layout
    (`rosmo.data.loader.dataset_spec`), their metadata checked by `check_dataset_metadata`; the metadata's env
    is `config.env` when it records none."""
    for path in dataset_list(config.dataset_dir):  # a wrong path fails before TensorFlow loads
        check_dataset_directory(path)
    from rosmo.data import loader  # TensorFlow: only where a dataset is read (module docstring)

    spec = loader.dataset_spec(config.dataset_dir)
    meta, path = spec["metadata"], spec["path"]
    check_dataset_metadata(meta, path, config.env, expected, required)
    return DatasetSpec(
        path,
        tuple(spec["observation_shape"]),
        spec["observation_dtype"],
        int(meta["num_actions"]),
        spec["num_episodes"],
        spec["num_steps"],
        dict(meta, env=meta.get("env", config.env)),
    )


def dataset_references(env: str, metadata: dict[str, Any], description: str) -> list[Reference]:
    """[Reference("dqn", random_return, dqn_return)] when the metadata is of `env` and records both returns (a
    dataset made by an online DQN's run), else []."""
    if metadata.get("env") != env or metadata.get("random_return") is None or metadata.get("dqn_return") is None:
        return []
    return [Reference("dqn", float(metadata["random_return"]), float(metadata["dqn_return"]), description)]
