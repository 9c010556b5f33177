"""POST /v1/admin/reload: serve the version the alias points to now.

Only mounted when TOPICFRAME_ADMIN_KEY is set. The new model is loaded and
verified while the old one keeps serving, then swapped in one step; a failed
load leaves the old model serving and returns the error (502).

With several workers the request reaches one worker; it then replaces the
reload signal file (`Settings.reload_signal_file`) and the other workers check
the alias within a second, each loading the new version as this one did.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from service.dependencies import SettingsDep, StoreDep
from service.encoding import to_json
from service.model_store import describe_error, in_daemon_thread
from service.reload_signal import signal_reload
from service.schemas import ErrorResponse, ReloadFailed, ReloadResponse

router = APIRouter(tags=["admin"])


@router.post(
    "/v1/admin/reload",
    response_model=ReloadResponse,
    responses={
        401: {"model": ErrorResponse, "description": "X-Admin-Key missing"},
        403: {"model": ErrorResponse, "description": "X-Admin-Key not valid"},
        502: {"model": ReloadFailed, "description": "The new model could not be loaded; the old one keeps serving"},
    },
)
async def reload_model(store: StoreDep, settings: SettingsDep) -> Any:
    """Resolve the model URI again, download and verify the artifact, swap it in (every worker follows)."""
    previous = store.current
    try:
        # Downloading and unpickling take seconds: off the event loop, so requests keep flowing meanwhile
        # (in a daemon thread: a reload stuck on the registry does not hold up a shutdown).
        loaded = await in_daemon_thread(store.load)
    except Exception as exc:
        body = {
            "detail": [
                {
                    "loc": [],
                    "msg": (
                        f"reload failed, the previous model keeps serving: {describe_error(exc)}"
                        if previous
                        else f"reload failed, and no model is serving yet: {describe_error(exc)}"
                    ),
                    "type": "reload_failed",
                }
            ],
            "serving": previous.describe() if previous else None,
        }
        return Response(to_json(body), status_code=502, media_type="application/json")
    signal_reload(settings.reload_signal_file)
    return {
        "changed": previous is None or previous.ref.version != loaded.ref.version,
        "previous": previous.describe() if previous else None,
        "model": loaded.describe(),
        "loaded_at": loaded.loaded_at,
    }
