"""pyproject.toml and environment.yml name the same packages with the same version ranges.

The conda file is what Binder and conda users install; pyproject.toml is what pip installs.
Every dependency and every extra of pyproject.toml must appear in environment.yml (conda
packages, or the ``pip:`` subsection for what conda-forge lacks) with the same range, and
nothing else may: ``python``, ``pip`` and the ``-e .`` line are the only exceptions.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest itself depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PYPI = {"pytorch": "torch"}
IGNORED = {"python", "pip"}


def pyproject_requirements() -> dict[str, SpecifierSet]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    own = canonicalize_name(project["name"])
    lines = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        lines += extra
    out: dict[str, SpecifierSet] = {}
    for line in lines:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        if name == own:  # "lode-utils[book]": an extra including another extra
            continue
        assert name not in out or out[name] == req.specifier, f"{name} listed twice with different ranges in pyproject.toml"
        out[name] = req.specifier
    return out


_CONDA_SPEC = re.compile(r"^([A-Za-z0-9_.\-]+)((?:[<>=!~]=?[0-9][0-9A-Za-z.*]*,?)*)$")


def environment_requirements() -> dict[str, SpecifierSet]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out: dict[str, SpecifierSet] = {}

    def add(name: str, spec: str):
        name = canonicalize_name(CONDA_TO_PYPI.get(name, name))
        assert name not in out, f"{name} listed twice in environment.yml"
        out[name] = SpecifierSet(spec.replace(" ", ""))

    pip_sections = 0
    for item in env["dependencies"]:
        if isinstance(item, dict):
            assert set(item) == {"pip"}, f"unexpected section {set(item)} in environment.yml"
            pip_sections += 1
            for line in item["pip"]:
                if line.strip() in ("-e .", "-e.", "."):
                    continue
                req = Requirement(line)
                add(req.name, str(req.specifier))
            continue
        m = _CONDA_SPEC.match(item.replace(" ", ""))
        assert m, f"environment.yml entry {item!r}: write conda specs as name>=a,<b (the form this check compares)"
        name, spec = m.group(1), m.group(2)
        if name in IGNORED:
            continue
        add(name, spec)
    assert pip_sections <= 1
    return out


def test_pyproject_and_environment_name_the_same_packages():
    py, env = pyproject_requirements(), environment_requirements()
    assert sorted(set(py) - set(env)) == [], "in pyproject.toml but not in environment.yml"
    assert sorted(set(env) - set(py)) == [], "in environment.yml but not in pyproject.toml"


def test_pyproject_and_environment_use_the_same_ranges():
    py, env = pyproject_requirements(), environment_requirements()
    different = {name: (str(py[name]), str(env[name])) for name in set(py) & set(env) if py[name] != env[name]}
    assert different == {}


def test_every_requirement_has_a_range():
    for name, spec in pyproject_requirements().items():
        assert len(spec) >= 1, f"{name} has no version range in pyproject.toml"


@pytest.mark.parametrize(
    ("pyproject_line", "env_line", "same"),
    [("torch>=2.2,<3", "torch>=2.2,<3", True), ("torch>=2.2,<3", "torch<3,>=2.2", True), ("torch>=2.2,<3", "torch>=2.3,<3", False)],
)
def test_range_comparison_is_order_insensitive_but_strict(pyproject_line, env_line, same):
    """The comparison used above: the order of clauses does not matter, their values do."""
    assert (Requirement(pyproject_line).specifier == SpecifierSet(env_line.removeprefix("torch"))) is same


def test_sanity_of_the_parsed_files():
    py, env = pyproject_requirements(), environment_requirements()
    assert "torch" in py and "torch" in env  # pytorch on conda-forge is torch on PyPI
    assert "sphinx-mathjax-offline" in env  # from the pip: subsection
    assert "lode-utils" not in py
