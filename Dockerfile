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
# Ready = the database answers and no background loop keeps failing (GET /readyz).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=5 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]
# The image serves; migrations run as a separate one-shot step (`fcsbe db upgrade`, see
# docker-compose.yml). The migration scripts travel inside the installed package (fcsbe/_alembic).
CMD ["fcsbe", "serve", "--host", "0.0.0.0", "--port", "8000"]
