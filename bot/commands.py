"""CLI commands that need the heavier modules (telegram, tweepy, the router)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bot.config import Settings

COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {}
