"""The API's documentation page, ``/docs``: Swagger UI rendering ``/openapi.json``, with Swagger
UI's own files served by the gateway (from the fastapi-swagger package) under ``/docs/static``,
so the page loads nothing from anywhere else: it works offline and behind any firewall. Like
the OpenAPI document it renders, it needs no token."""

from importlib import resources
from pathlib import Path
from typing import Final

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["mount_swagger_ui", "router"]

#: Where the gateway serves Swagger UI's own files.
DOCS_STATIC: Final = "/docs/static"
#: The browser may load the /docs page's parts only from the gateway (Swagger UI's start-up
#: script is inline, and its stylesheet embeds data: images).
DOCS_CSP: Final = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'"
)

router = APIRouter()


def swagger_ui_files() -> Path:
    """The directory of Swagger UI's dist files (``swagger-ui-bundle.js``, ``swagger-ui.css``,
    ``favicon-32x32.png``) as the fastapi-swagger package installs them."""
    return Path(str(resources.files("fastapi_swagger") / "resources"))


def mount_swagger_ui(app: FastAPI) -> None:
    """Serve Swagger UI's files under :data:`DOCS_STATIC`."""
    app.mount(DOCS_STATIC, StaticFiles(directory=swagger_ui_files()), name="swagger-ui")


@router.get("/docs", include_in_schema=False)
async def docs(request: Request) -> HTMLResponse:
    app: FastAPI = request.app
    root = str(request.scope.get("root_path", "")).rstrip("/")
    page = get_swagger_ui_html(
        openapi_url=f"{root}{app.openapi_url}",
        title=f"{app.title} - API documentation",
        swagger_js_url=f"{root}{DOCS_STATIC}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{DOCS_STATIC}/swagger-ui.css",
        swagger_favicon_url=f"{root}{DOCS_STATIC}/favicon-32x32.png",
        # Swagger UI would otherwise send the document's URL to an online validator.
        swagger_ui_parameters={"validatorUrl": None},
    )
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page
