"""Package metadata: the version comes from regression_model/VERSION, the runtime
dependencies from requirements/requirements.txt, so each is written once."""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).resolve().parent
PACKAGE_DIR = ROOT / "regression_model"


def read_requirements(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("-r")]


setup(
    name="ames-price-model",
    version=(PACKAGE_DIR / "VERSION").read_text().strip(),
    description="Predict house sale prices in Ames, Iowa: a production-ready ML package.",
    long_description=(ROOT / "README.md").read_text(),
    long_description_content_type="text/markdown",
    author="regression_model maintainers",
    license="BSD-3-Clause",
    python_requires=">=3.10",
    packages=find_packages(exclude=("tests", "tests.*", "benchmarks", "benchmarks.*")),
    package_data={
        "regression_model": [
            "VERSION",
            "config.yml",
            "py.typed",
            "examples/*.json",
            "trained_models/*.pkl",
            "trained_models/*.json",
            "trained_models/*.md",
            "trained_models/*.png",
            "serve/static/*",
        ]
    },
    include_package_data=False,
    install_requires=read_requirements(ROOT / "requirements" / "requirements.txt"),
    extras_require={
        extra: read_requirements(ROOT / "requirements" / f"{extra}_requirements.txt")
        for extra in ("dask", "report", "serve")
    },
    entry_points={"console_scripts": ["regression-model=regression_model.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Operating System :: OS Independent",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
