"""GET /: the analyst web page (service/static/), and /docs + /redoc with their assets served locally.

The page is plain HTML, CSS and JavaScript modules (no build step) and talks only
to this service's API. FastAPI's own /docs and /redoc load Swagger UI and ReDoc
from a CDN and render blank offline, so `create_app` turns them off and these
routes serve the same pages (FastAPI's self-hosting recipe) with the copies in
service/static/vendor/ (versions and licences in its README).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
STATIC_URL = "/static"
FAVICON = f"{STATIC_URL}/favicon.svg"

# What each page may load: only this service. The browser refuses anything else before it is requested,
# which also covers what the vendored docs bundles would fetch by themselves (ReDoc's sidebar shows a logo
# from cdn.redoc.ly, and no option turns it off). Swagger UI and ReDoc need inline scripts and styles
# (their HTML starts them inline; ReDoc injects styles and runs its search in a blob: worker); the
# analyst page needs neither.
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
DOCS_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; connect-src 'self'; font-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False)
# StaticFiles answers with ETag and Last-Modified: a reload revalidates (304) instead of downloading again.
router.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="static")


@router.get("/")
async def web_page() -> FileResponse:
    """The analyst page: paste an article, see its labels, correct them, compare versions."""
    headers = {"Cache-Control": "no-cache", "Content-Security-Policy": PAGE_POLICY}
    return FileResponse(STATIC_DIR / "index.html", headers=headers)


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} - Swagger UI",
        oauth2_redirect_url="/docs/oauth2-redirect",
        swagger_js_url=f"{STATIC_URL}/vendor/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{STATIC_URL}/vendor/swagger-ui/swagger-ui.css",
        swagger_favicon_url=FAVICON,
    )
    page.headers["Content-Security-Policy"] = DOCS_POLICY
    return page


@router.get("/docs/oauth2-redirect")
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    page = get_redoc_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{STATIC_URL}/vendor/redoc/redoc.standalone.js",
        redoc_favicon_url=FAVICON,
        with_google_fonts=False,  # fonts.googleapis.com: an external request, and nothing to show offline
    )
    page.headers["Content-Security-Policy"] = DOCS_POLICY
    return page
