"""`rosmo deploy`: deployment-efficient RL, the deployment loop as a job (collect -> train -> evaluate, I times).

    rosmo deploy --agent rosmo --env bsuite:cartpole --workdir runs/dep-cp --deployments 10 \\
        --transitions 2000 --steps 1000 --epsilon 0.1 --reference-dataset datasets/bsuite/cartpole
    rosmo deploy --agent bc --env bsuite:catch --workdir runs/dep-catch --from-scratch --config.batch_size=64
    rosmo deploy --agent rosmo --env minatar:breakout --workdir runs/dep-breakout --transitions 20000 \
        --steps 2000 --reference-dataset datasets/minatar/breakout
    rosmo deploy --agent bremen --env mujoco:HalfCheetah-v5 --workdir runs/hc --deployments 5 --transitions 100000

Deployment 1 collects with a uniform-random policy; deployment i with deployment i - 1's policy
(the window learners: their acting rule plus epsilon-greedy; BREMEN: its mean plus Gaussian noise).
Every deployment's dataset, checkpoint and evaluation is kept under `<workdir>/deployments/<i>/`;
`deployments.csv`, `summary.json` and `plots/` (return against deployments and environment steps)
are rewritten after each. Run the same command again to resume at the first unfinished stage;
asking for more deployments continues a finished run.

Exit codes: 0 done, 1 a run failed (non-finite values), 2 bad input, 128 + signal when stopped.
"""

from __future__ import annotations

import argparse
import json
import sys

from rosmo.cli import user_message

CONFIG_OVERRIDES = True

AGENTS_HELP = "rosmo, mzu, bc, cql (window learners, on bsuite:<env> or minatar:<game>) or bremen (on mujoco:<env>)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rosmo.cli import add_config_flags

    parser.add_argument("--agent", required=True, help=AGENTS_HELP)
    parser.add_argument(
        "--env",
        default=None,
        help="<suite>:<env>, e.g. bsuite:cartpole, minatar:breakout "
        "(default bsuite:catch; mujoco:HalfCheetah-v5 for bremen)",
    )
    parser.add_argument("--workdir", default=None, help="run directory (resumes by itself)")
    parser.add_argument("--deployments", type=int, default=None, help="number of deployments I (default 5)")
    parser.add_argument(
        "--transitions",
        type=int,
        default=None,
        help="transitions B collected per deployment (default 1000; bremen: its config's)",
    )
    parser.add_argument("--steps", type=int, default=1000, help="learner steps per deployment (window learners)")
    parser.add_argument(
        "--epsilon", type=float, default=0.1, help="epsilon-greedy exploration when collecting (discrete)"
    )
    parser.add_argument(
        "--from-scratch",
        action="store_true",
        help="retrain from scratch each deployment (default: warm-start from the previous checkpoint)",
    )
    parser.add_argument(
        "--reference-dataset",
        default=None,
        help="a `rosmo dataset bsuite` / `rosmo dataset minatar` dataset of the env whose random / DQN returns "
        "normalise the scores (and whose protocol, e.g. sticky actions, the collection and evaluation use)",
    )
    parser.add_argument(
        "--full-size", action="store_true", help="bremen: the paper-sized config instead of the CPU one"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--print-config", action="store_true", help="print the resolved configs and exit")
    add_config_flags(
        parser,
        "set a field of the learner's config (the suite's config for rosmo/mzu/bc/cql, "
        "BREMEN's config for bremen, e.g. --config.trpo.iterations=100; --print-config lists them)",
    )


def run(args: argparse.Namespace) -> int:
    from absl import logging

    from rosmo.cli import spell_as_typed
    from rosmo.cli.train import quiet_background_errors
    from rosmo.configs.loading import apply_overrides
    from rosmo.deploy import jobs as deploy_jobs
    from rosmo.deploy.loop import DeploymentError
    from rosmo.errors import ConfigError, DatasetError, NonFiniteError
    from rosmo.training.checkpoint import CheckpointError
    from rosmo.signals import Stopped, StopSignals
    from rosmo.training.workdir import WorkdirError

    logging.set_verbosity(logging.WARNING)
    quiet_background_errors()
    try:
        job = deploy_jobs.make_job(
            args.agent,
            args.env,
            deployments=args.deployments,
            transitions=args.transitions,
            steps=args.steps,
            epsilon=args.epsilon,
            warm_start=not args.from_scratch,
            reference_dataset=args.reference_dataset,
            full_size=args.full_size,
        )
        apply_overrides(job.config, args.config_overrides)
        if args.print_config:
            print(job.describe())
            return 0
        if not args.workdir:
            raise ConfigError("--workdir is required, e.g. --workdir runs/deploy")
        with StopSignals():
            summary = job.run(args.workdir, progress=not args.no_progress)
    except (ConfigError, DatasetError, WorkdirError, CheckpointError, DeploymentError) as err:
        print(f"rosmo deploy: error: {spell_as_typed(user_message(err), args.config_overrides)}", file=sys.stderr)
        return 2
    except NonFiniteError as err:
        print(f"rosmo deploy: error: {user_message(err)}", file=sys.stderr)
        return 1
    except Stopped as stop:
        print(f"rosmo deploy: {stop}; run the same command to resume", file=sys.stderr)
        return stop.exit_code
    for row in summary["deployments"]:
        score = row.get("normalized_score")
        print(
            f"deployment {row['deployment']:>3}  env steps {row['env_steps']:>8}  mean return {row['mean_return']:.2f}"
            + ("" if score in (None, "") else f"  normalised {float(score):.3f}")
        )
    print(json.dumps({k: summary[k] for k in ("workdir", "env_steps", "final_mean_return", "wall_seconds")}))
    return 0
