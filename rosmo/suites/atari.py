"""The Atari suite: RL Unplugged data (`rlu_atari`), ALE's vector env under the RL Unplugged protocol.

Data: `<config.dataset>/<Game>_run_<config.run>` under the TFDS `config.data_dir`
(a copy of the RL Unplugged bucket, or `rosmo dataset atari` output); batches of
4-frame-stacked windows from `rosmo.data.rlu_atari`. Evaluation: full episodes
in `ale_py.AtariVectorEnv` (sticky actions 0.25, 108k-frame cap), scored against
RL Unplugged's random / online-DQN returns and, where one exists, the Atari-57
human score (`rosmo/envs/data/atari_scores.csv`).
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import jax
import numpy as np

from rosmo.data import rlu_names
from rosmo.envs import atari as atari_env
from rosmo.envs.reference_scores import ATARI_GAMES, atari_scores
from rosmo.errors import DatasetError, check_field
from rosmo.evaluation.loops import Episodes, play_atari
from rosmo.ops import frames as frame_ops
from rosmo.suites.base import DatasetSpec, Reference, Suite, per_process_batch_size
from rosmo.suites.configs import atari as atari_configs

DQN_REFERENCE = "RL Unplugged: uniform random / online DQN returns"
HUMAN_REFERENCE = "Atari-57: random / human returns"


class Atari(Suite):
    name = "atari"
    description = "Atari 2600 (RL Unplugged datasets; ALE vector env under the RL Unplugged protocol)"

    def get_config(self, arg: str = ""):
        return atari_configs.get_config(arg or "Pong")

    def env_names(self) -> Sequence[str]:
        return tuple(ATARI_GAMES)

    def canonical_env(self, name: str) -> str:
        """Any game with an ALE ROM, spelled as ALE/TFDS do ("pong" -> "Pong")."""
        return atari_env.game_name(name)

    def validate(self, config) -> None:
        check_field(config.run in rlu_names.RUNS, "run", f"one of {rlu_names.RUNS}", config.run)
        check_field(config.dataset in rlu_names.DATASETS, "dataset", f"one of {rlu_names.DATASETS}", config.dataset)
        check_field(config.env in ATARI_GAMES, "env", "one of the 46 RL Unplugged games", config.env)

    def dataset_spec(self, config) -> DatasetSpec:
        """`<dataset>/<Game>_run_<run>` under `data_dir`: observation uint8 [84, 84, 4] (4 stacked frames)."""
        from rosmo.data import rlds, rlu_atari, schema  # TensorFlow: here (rosmo.suites.base)

        builder = rlu_atari.load_rlu_builder(config.env, config.run, config.data_dir, config.dataset)
        frame = (atari_env.FRAME_SIZE, atari_env.FRAME_SIZE, 1)
        try:
            schema.validate_features(builder, expected_observation_shape=frame)
        except DatasetError as err:
            raise DatasetError(f"{err} (RL Unplugged frames are 84x84 grayscale, stacked to 4 by the loader)") from None
        meta = dict(rlds.metadata(builder))
        game = rlu_names.canonical_game(config.env)
        num_actions = meta.get("num_actions")
        if num_actions is None:  # the RL Unplugged files carry no metadata: the game's minimal action set
            num_actions = self.env_spec(game, meta)[1]
        meta.update(env=game, num_actions=int(num_actions))
        frame_shape = tuple(builder.info.features["steps"]["observation"].shape)  # (84, 84, 1)
        return DatasetSpec(
            path=str(builder.data_dir),
            observation_shape=frame_shape[:2] + (atari_env.STACK_SIZE,),
            observation_dtype=np.dtype(np.uint8),
            num_actions=int(num_actions),
            num_episodes=sum(int(s.num_examples) for s in builder.info.splits.values()),
            num_steps=meta.get("num_steps"),
            metadata=meta,
        )

    def make_batches(self, config, start_batch: int = 0) -> Iterator[dict[str, np.ndarray]]:
        """Batches of stacked windows; this process reads its own disjoint share of the episodes.

        A resumed run (`start_batch` > 0) gets the batches of an uninterrupted one from `start_batch` on
        (the earlier batches' draws are replayed without decoding frames, `make_rlu_atari_loader`).
        """
        from rosmo.data import rlu_atari  # TensorFlow: here (rosmo.suites.base)

        return rlu_atari.make_rlu_atari_loader(
            config.env,
            config.run,
            data_dir=config.data_dir,
            dataset=config.dataset,
            unroll_steps=config.unroll_steps,
            td_steps=config.td_steps,
            batch_size=per_process_batch_size(config.batch_size),
            data_percentage=config.data_percentage,
            seed=config.seed,
            episodes_in_flight=config.episodes_in_flight,
            cycle_length=config.read_cycle_length,
            ordered=config.ordered_checkpoints,
            process_index=jax.process_index(),
            process_count=jax.process_count(),
            start_batch=start_batch,
            num_actions=self.dataset_spec(config).num_actions,  # actions checked while reading
            stack_on_host=not config.stack_on_device,
            gather_threads=config.gather_threads,
        )

    def batch_transform(self, config):
        """With `stack_on_device`: `frames` [B, L + 3, 84, 84] -> `observation` [B, L, 84, 84, 4] in the jitted step
        (the host ships 14 frames per window instead of 44)."""
        if not config.stack_on_device:
            return None
        return stack_observation

    def env_spec(self, env: str, metadata: dict[str, Any]) -> tuple[tuple[int, ...], int]:
        probe = atari_env.AtariEnv(env, seed=0)
        return (atari_env.FRAME_SIZE, atari_env.FRAME_SIZE, atari_env.STACK_SIZE), probe.num_actions

    def make_env(self, env: str, seed: int, metadata: dict[str, Any], **options):
        """`AtariEnv(env, seed)`: the same env as sub-env 0 of `play`'s vector env seeded `seed`."""
        return atari_env.AtariEnv(env, seed=seed, **options)

    def play(
        self, env, act_fn, params, metadata, num_episodes, num_envs, seed, progress=False, jitted_act=None, **options
    ) -> Episodes:
        return play_atari(
            env,
            act_fn,
            params,
            num_episodes,
            num_envs=num_envs,
            seed=seed,
            progress=progress,
            jitted_act=jitted_act,
            **options,
        )

    def references(self, env: str, metadata: dict[str, Any]) -> list[Reference]:
        try:
            scores = atari_scores(env)
        except KeyError:  # a game outside RL Unplugged's 46: no references
            return []
        refs = [Reference("dqn", scores["random"], scores["dqn"], DQN_REFERENCE)]
        if scores["human"] is not None:
            refs.append(Reference("human", scores["human_random"], scores["human"], HUMAN_REFERENCE))
        return refs

    def eval_options(self, config) -> dict[str, Any]:
        return {"max_episode_frames": config.eval_max_episode_frames}


def stack_observation(batch: dict[str, Any]) -> dict[str, Any]:
    """The batch with `frames` [B, L + S - 1, H, W] replaced by `observation` [B, L, H, W, S] (S = 4)."""
    out = {k: v for k, v in batch.items() if k != "frames"}
    out["observation"] = frame_ops.stack_frames(batch["frames"], atari_env.STACK_SIZE)
    return out


SUITE = Atari()
