# fcsbe server image. Build: docker build -t fcsbe .
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md alembic.ini ./
COPY src ./src
COPY alembic ./alembic
RUN pip install --no-compile ".[server]" \
 && useradd --system --uid 10001 --home-dir /app fcsbe \
 && mkdir -p /app/var && chown fcsbe /app/var

USER fcsbe
EXPOSE 8000
# The image serves; migrations run as a separate one-shot step (see docker-compose.yml).
CMD ["fcsbe", "serve", "--host", "0.0.0.0", "--port", "8000"]
