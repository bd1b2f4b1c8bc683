"""`/docs` (Swagger UI) and `/redoc` (ReDoc) served from assets inside the installed package.

FastAPI's default pages load Swagger UI, ReDoc, a favicon and web fonts from CDNs, so a CSO's
air-gapped network sees blank pages. The assets come from the `fastapi-offline` distribution
(Swagger UI and ReDoc release files with their licences, pinned in pyproject.toml) and are
served at `/docs-assets/`; the pages reference nothing outside this server.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS_PATH", "install_docs_pages"]

ASSETS_PATH = "/docs-assets"


def _assets_dir() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


def install_docs_pages(app: FastAPI, title: str) -> None:
    """Serve the two documentation pages and their assets (the app is built with
    `docs_url=None, redoc_url=None`, so FastAPI's CDN pages do not exist)."""
    openapi_url = app.openapi_url or "/openapi.json"
    app.mount(ASSETS_PATH, StaticFiles(directory=_assets_dir()), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} - ReDoc",
            redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )
