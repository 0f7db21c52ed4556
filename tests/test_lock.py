"""The locked set of packages (requirements/*.txt, made by pip-compile from pyproject.toml) is
what pyproject asks for, and what the tests run with."""

import re
import tomllib
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT


def pins(name: str) -> dict[str, str]:
    found = {}
    for line in (ROOT / "requirements" / f"{name}.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            package, version = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line).groups()
            found[canonicalize_name(package)] = version
    return found


def asked() -> tuple[list[Requirement], list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    service = [Requirement(r) for r in project["dependencies"]]
    return service, [Requirement(r) for r in project["optional-dependencies"]["test"]]


def test_the_locks_hold_what_pyproject_asks_within_its_bounds():
    service, test = asked()
    for lock, wanted in (("service", service), ("test", service + test)):
        locked = pins(lock)
        for requirement in wanted:
            version = locked.get(canonicalize_name(requirement.name))
            assert version is not None, f"{requirement.name} is not in requirements/{lock}.txt"
            assert requirement.specifier.contains(version, prereleases=True), (lock, requirement)
    # the service's set is the tests' set, narrowed: one version of each package
    tested = pins("test")
    assert all(tested.get(name) == version for name, version in pins("service").items())


def test_the_tests_run_with_the_locked_set():
    for name, version in pins("test").items():
        assert metadata.version(name) == version, f"{name}: installed {metadata.version(name)}"
