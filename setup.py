"""Only one thing pyproject.toml cannot say: the wheel carries the Alembic migrations.

They live in `migrations/` at the top of the repository (where Alembic and contributors expect them); a
built package gets a copy as `bot/_migrations`, which `bot.db` finds when there is no source tree.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithMigrations(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "bot" / "_migrations"
        shutil.copytree(Path(__file__).parent / "migrations", target, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithMigrations})
