# Multi-stage: build a wheel-complete virtualenv, then copy it into a slim, non-root runtime image.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN /opt/venv/bin/pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 kemala
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY alembic.ini ./
COPY migrations ./migrations
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 KEMALA_MIGRATIONS_DIR=/app/migrations
USER kemala
# Migrations run before every start (a no-op when the schema is current).
CMD ["sh", "-c", "kemala db upgrade && exec kemala run"]
