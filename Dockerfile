# Multi-stage: build the wheel (it carries the migrations and the packaged data) into a virtualenv, then copy
# that into a slim, non-root runtime image.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY bot ./bot
COPY migrations ./migrations
RUN /opt/venv/bin/pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 kemala && mkdir /data && chown kemala:kemala /data
COPY --from=build /opt/venv /opt/venv
# The default database (sqlite:///kemala.db) lands in the data volume; PostgreSQL needs KEMALA_DATABASE_URL.
WORKDIR /data
VOLUME /data
# In a container the web server must listen beyond loopback for the port mapping (compose publishes it
# on the host's loopback only); /metrics still wants loopback or KEMALA_METRICS_TOKEN.
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 KEMALA_WEB_LISTEN=0.0.0.0 KEMALA_WEB_PORT=8080
EXPOSE 8080
USER kemala
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]
# Migrations run before every start (a no-op when the schema is current). A configuration error exits 78
# with one line; compose's on-failure:3 then stops instead of looping.
CMD ["sh", "-c", "kemala db upgrade && exec kemala run"]
