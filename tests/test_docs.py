"""The README tells the truth about the commands, the features and the set-up scripts."""

from __future__ import annotations

import os
import re

from posture.cli.main import cli
from posture.core import features
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
ARCHITECTURE = (REPO / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")


def test_two_setup_commands_exist_and_are_executable() -> None:
    block = README.split("## Set up", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["scripts/run", "scripts/test"]
    for command in commands:
        assert os.access(REPO / command, os.X_OK), command


def test_ci_calls_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^scripts/test\b", ci, re.MULTILINE)


def test_every_feature_is_documented() -> None:
    for name in features.NAMES:
        assert f"`{name}`" in README, name
    for spec in features.FEATURES:
        assert spec.definition and spec.sign and spec.unit


def test_every_command_is_in_the_readme() -> None:
    for name in cli.commands:
        assert f"posture {name}" in README, name


def test_every_module_is_in_the_architecture() -> None:
    for module in sorted((REPO / "posture").rglob("*.py")):
        if module.name in {"__init__.py", "__main__.py"}:
            continue
        name = module.relative_to(REPO).as_posix()
        assert name in ARCHITECTURE, name
