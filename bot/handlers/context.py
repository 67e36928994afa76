"""The typed context handlers receive: `context.bot_data.svc` instead of bot_data["x"] + cast."""

from __future__ import annotations

from typing import Any

from telegram.ext import CallbackContext, ExtBot

from bot.services import Services


class BotData:
    """Application-wide data; holds the services built by the composition root."""

    def __init__(self) -> None:
        self._svc: Services | None = None

    @property
    def svc(self) -> Services:
        if self._svc is None:
            raise RuntimeError("services not attached; build the app with bot.app.build_application")
        return self._svc

    @svc.setter
    def svc(self, value: Services) -> None:
        self._svc = value


class KemalaContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    @property
    def svc(self) -> Services:
        return self.bot_data.svc
