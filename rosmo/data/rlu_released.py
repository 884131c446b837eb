"""RL Unplugged Atari's released files, and the real TFDS builders run on them without Apache Beam.

The bucket `gs://rl_unplugged/atari_episodes_ordered/<Game>/run_<r>-<i:05d>-of-<n:05d>`
holds GZIP TFRecord files of `tf.train.Example`s, one per episode, with the keys
that `tensorflow_datasets/rl_unplugged/atari_utils.py` parses::

    checkpoint_idx, episode_idx          int64 scalars
    episode_return, clipped_episode_return  float32 scalars
    observations       bytes [T]   PNG 84x84x1 frames
    actions            int64 [T]
    unclipped_rewards, clipped_rewards   float32 [T]
    discounts          float32 [T]   (0 at the last step of a game over)

`write_released_files` writes tiny files of that format (tests, benchmarks);
`prepare` runs the real `rlu_atari` / `rlu_atari_checkpoints_ordered` builder's
`download_and_prepare` on a local copy of such files. `rlu_atari`'s own split
generator is an Apache Beam pipeline over the files; `prepare` swaps it for the
builder's per-file generator (`generate_examples_one_file`, file after file), which
yields the same examples without Beam. The ordered builder needs no Beam: one split
(`checkpoint_<i:02d>`) per file.
"""

from __future__ import annotations

import os
from typing import Iterable, Iterator, Optional, Sequence

import numpy as np

from rosmo.data import rlds
from rosmo.data.rlu_names import config_name

tf = rlds.tf
tfds = rlds.tfds
from tensorflow_datasets.rl_unplugged import atari_utils, rlu_common  # noqa: E402  (after rlds pins TF to the CPU)
from tensorflow_datasets.rl_unplugged.rlu_atari import rlu_atari as tfds_rlu_atari  # noqa: E402
from tensorflow_datasets.rl_unplugged.rlu_atari_checkpoints_ordered import (  # noqa: E402
    rlu_atari_checkpoints_ordered as tfds_rlu_ordered,
)

BUILDERS = {
    "rlu_atari": tfds_rlu_atari.RluAtari,
    "rlu_atari_checkpoints_ordered": tfds_rlu_ordered.RluAtariCheckpointsOrdered,
}


def encode_frames(frames: np.ndarray) -> list[bytes]:
    """PNG bytes of uint8 frames [T, 84, 84] (one grayscale channel each)."""
    return [tf.io.encode_png(f[:, :, None]).numpy() for f in np.asarray(frames, np.uint8)]


def released_example(episode: dict[str, np.ndarray], pngs: Optional[Sequence[bytes]] = None) -> bytes:
    """One serialized `tf.train.Example` in the released format.

    `episode`: frames uint8 [T, 84, 84], actions int [T], rewards float [T]
    (unclipped), discounts float [T], checkpoint_idx, episode_idx (ints).
    `pngs` (optional) are the frames already PNG-encoded.
    """
    rewards = np.asarray(episode["rewards"], np.float32)
    clipped = np.clip(rewards, -1.0, 1.0)
    pngs = encode_frames(episode["frames"]) if pngs is None else list(pngs)

    def ints(v):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=np.asarray(v, np.int64).reshape(-1)))

    def floats(v):
        return tf.train.Feature(float_list=tf.train.FloatList(value=np.asarray(v, np.float32).reshape(-1)))

    feature = {
        "checkpoint_idx": ints(episode["checkpoint_idx"]),
        "episode_idx": ints(episode["episode_idx"]),
        "episode_return": floats(rewards.sum()),
        "clipped_episode_return": floats(clipped.sum()),
        "observations": tf.train.Feature(bytes_list=tf.train.BytesList(value=pngs)),
        "actions": ints(episode["actions"]),
        "unclipped_rewards": floats(rewards),
        "clipped_rewards": floats(clipped),
        "discounts": floats(episode["discounts"]),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def released_files(files_dir: str, game: str, run: int, num_files: int) -> list[str]:
    """The released file names: `<files_dir>/<Game>/run_<run>-<i:05d>-of-<n:05d>` (rlu_common.get_files)."""
    game = config_name(game, run).rsplit("_run_", 1)[0]
    return rlu_common.get_files(atari_utils.file_prefix(files_dir, run, game), num_files)


def write_released_files(files_dir: str, game: str, run: int, files: Sequence[Iterable[bytes]]) -> list[str]:
    """Write `files[i]` (serialized examples) as GZIP TFRecord file i of `len(files)`; returns the paths."""
    paths = released_files(files_dir, game, run, len(files))
    os.makedirs(os.path.dirname(paths[0]), exist_ok=True)
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    for path, examples in zip(paths, files):
        with tf.io.TFRecordWriter(path, options) as writer:
            for example in examples:
                writer.write(example)
    return paths


def _local_builder_class(dataset: str, files_dir: str, num_files: int):
    """The real builder class reading `num_files` released files under `files_dir`, without Beam."""
    if dataset not in BUILDERS:
        raise ValueError(f"dataset must be one of {tuple(BUILDERS)}, got {dataset!r}")
    base = BUILDERS[dataset]

    class Local(base, skip_registration=True):
        name = base.name  # same name, so the output is `<data_dir>/<dataset>/<config>/<version>`
        _INPUT_FILE_PREFIX = files_dir
        _SHARDS = num_files

        def _generate_examples(self, paths):
            """Per-file generator instead of `rlu_atari`'s Beam pipeline (the ordered builder's is already one)."""
            file_paths = paths["file_paths"]
            if isinstance(file_paths, str):
                return self.generate_examples_one_file(file_paths)
            return _chain(self.generate_examples_one_file(p) for p in file_paths)

    Local.__name__ = Local.__qualname__ = base.__name__
    return Local


def _chain(generators: Iterable[Iterator]) -> Iterator:
    for generator in generators:
        yield from generator


def prepare(
    dataset: str, game: str, run: int, files_dir: str, data_dir: str, num_files: int, num_shards: Optional[int] = None
) -> tfds.core.DatasetBuilder:
    """Run the real TFDS builder's `download_and_prepare` on local released files; returns the builder.

    Args:
      dataset: "rlu_atari" or "rlu_atari_checkpoints_ordered".
      game, run: the config, e.g. "Pong", 1.
      files_dir: holds `<Game>/run_<run>-<i:05d>-of-<num_files:05d>` (the bucket's
        `atari_episodes_ordered` folder, or a copy of part of it).
      data_dir: the TFDS data_dir written to (`<data_dir>/<dataset>/<Game>_run_<run>/<version>`).
      num_files: how many released files there are (50, or 49 for a few games, in the bucket).
      num_shards: TFDS output shards per split (default: TFDS chooses by size).
    """
    cls = _local_builder_class(dataset, files_dir, num_files)
    builder = cls(config=config_name(game, run), data_dir=data_dir)
    builder.num_shards = lambda: num_files  # the real one drops a file for a few short games
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(num_shards=num_shards))
    return builder
