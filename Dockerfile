# fcsbe server image. Build: docker build -t fcsbe .
# Runs as the unprivileged user 10001. The application in /app is read-only for it; everything
# the server writes (the embedded SQLite database, signing and pseudonymisation keys) goes to
# the volume /data. `docker run -p 127.0.0.1:8000:8000 -v fcsbe-data:/data fcsbe` starts an
# embedded server (SQLite, migrated and initialised on first start); docker-compose.yml runs it
# on PostgreSQL.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md alembic.ini ./
COPY src ./src
COPY alembic ./alembic
RUN pip install --no-compile ".[server]" \
 && groupadd --system --gid 10001 fcsbe \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /data fcsbe \
 && mkdir -p /data && chown 10001:10001 /data && chmod 0700 /data

ENV FCSBE_DATA_DIR=/data \
    FCSBE_DATABASE_URL=sqlite+aiosqlite:////data/fcsbe.db
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8000
# Ready = the database answers and no background loop keeps failing (GET /readyz).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=5 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]
# `fcsbe serve` checks the settings, the port and the database before it starts (exit status 2
# with the setting to fix). On PostgreSQL run `fcsbe db upgrade` first (docker-compose.yml does).
CMD ["fcsbe", "serve", "--host", "0.0.0.0", "--port", "8000"]
