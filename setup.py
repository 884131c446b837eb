"""rosmo: offline model-based RL with a learned latent model (ROSMO, MuZero Unplugged)."""
from setuptools import find_packages, setup

setup(
    name="rosmo",
    version="0.1.0",
    description="Offline model-based RL with a learned latent model: ROSMO and MuZero Unplugged in JAX.",
    packages=find_packages(include=["rosmo", "rosmo.*"]),
    package_data={"rosmo.envs": ["data/*.csv", "data/*.md"]},
    include_package_data=True,
    python_requires=">=3.11,<3.12",
    extras_require={"minatar": ["MinAtar==1.0.15"]},  # GPL-3.0: the MinAtar suite's reference envs
    entry_points={"console_scripts": ["rosmo=rosmo.cli:main"]},
)
