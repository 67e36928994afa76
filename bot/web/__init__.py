"""The desk's one web server: an ASGI app (Starlette) served by uvicorn beside python-telegram-bot, in the
bot's own event loop. /healthz, /metrics and, in webhook mode, /telegram; the board adds its pages here."""
