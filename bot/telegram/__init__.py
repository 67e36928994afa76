"""The Telegram adapter: gateway (one retry helper for every Bot API call), card rendering, keyboards
built from the permission policy, the callback codec."""
