"""The house rules hold on this tree, and the checker fails when one is broken (docs/architecture.md)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "check_architecture.py"

_spec = importlib.util.spec_from_file_location("check_architecture", SCRIPT)
assert _spec is not None and _spec.loader is not None
arch = importlib.util.module_from_spec(_spec)
sys.modules["check_architecture"] = arch
_spec.loader.exec_module(arch)


def test_the_tree_keeps_rules_1_2_3_and_6() -> None:
    found = arch.check(ROOT)
    assert found == [], "\n".join(map(str, found))


def test_the_checker_runs_as_a_script() -> None:
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "rules 1, 2, 3 and 6 hold" in out.stdout


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of bot/ to plant violations in."""
    shutil.copytree(ROOT / "bot", tmp_path / "bot", ignore=shutil.ignore_patterns("__pycache__", "data"))
    return tmp_path


PLANTED = {
    # rule: (file, text appended, what the violation line says)
    # policy imports lifecycle already: lifecycle importing policy closes a circle.
    1: ("bot/domain/lifecycle.py", "\nfrom bot.domain import policy  # noqa\n", "import circle"),
    2: ("bot/handlers/buttons.py", "\n\nasync def _peek(svc: Services) -> None:\n    async with svc.sessions() as s:\n"
        "        await s.execute(select(1))\n", "opens a database session"),
    3: ("bot/jobs/cards.py", "\n\ndef _is_sent(row: object) -> bool:\n    return row.state == \"sent\"  # type: ignore\n",
        '"sent" compared as a string'),
    6: ("bot/domain/lifecycle.py", "\nimport telegram  # noqa\n", "imports telegram: the domain is pure"),
}


@pytest.mark.parametrize("rule", sorted(PLANTED))
def test_each_rule_fails_on_a_planted_violation(tree: Path, rule: int) -> None:
    assert arch.check(tree) == []
    path, text, words = PLANTED[rule]
    with (tree / path).open("a", encoding="utf-8") as f:
        f.write(text)
    found = arch.check(tree)
    assert any(v.rule == rule and words in v.what for v in found), "\n".join(map(str, found))
    out = subprocess.run([sys.executable, str(SCRIPT), "--root", str(tree)], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 1 and f"rule {rule}" in out.stdout


def test_the_domain_may_not_reach_outside_itself(tree: Path) -> None:
    with (tree / "bot/domain/policy.py").open("a", encoding="utf-8") as f:
        f.write("\nfrom bot.models import Complaint  # noqa\n")
    found = arch.check(tree)
    assert any(v.rule == 6 and "bot.models" in v.what for v in found)


def test_a_status_written_as_a_string_in_a_use_case_is_caught(tree: Path) -> None:
    with (tree / "bot/usecases/desk.py").open("a", encoding="utf-8") as f:
        f.write("\n\ndef _close(c: Complaint) -> None:\n    c.status = \"closed\"\n")
    found = arch.check(tree)
    assert any(v.rule == 3 and '"closed"' in v.what for v in found)
