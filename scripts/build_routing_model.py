"""Rebuild bot/data/routing_model.json from bot/data/routing_dev.csv (after a rules or normaliser change)."""

from __future__ import annotations

import json
from pathlib import Path

from bot.routing import MODEL_JSON, Router
from bot.routing_training import train_default_plus


def main() -> None:
    # Read texts with the rules of this tree but no learned model (the model being rebuilt).
    reader = Router.from_files(model_json=None)
    model = train_default_plus([], router=reader)
    Path(MODEL_JSON).write_text(json.dumps(model.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n",
                                encoding="utf-8")
    print(f"wrote {MODEL_JSON}: {model.meta}")


if __name__ == "__main__":
    main()
