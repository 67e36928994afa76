"""The pure domain: no I/O, no framework imports (telegram, tweepy, sqlalchemy are forbidden here)."""
