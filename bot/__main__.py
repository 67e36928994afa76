"""python -m bot → the kemala CLI."""

from bot.cli import main

raise SystemExit(main())
