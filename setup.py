"""Package discovery (pyproject.toml holds everything else).

``cli/`` is installed as ``minifw_cli`` (not as a bare ``cli`` package, which
would collide with other projects); every package under ``minifw/`` is found
automatically so a new subpackage can never be left out of a wheel.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["minifw", "minifw.*"]) + ["minifw_cli"],
    package_dir={"minifw_cli": "cli"},
)
