"""POST /v1/compare: one article classified by two versions of the served model, and where they differ.

`a` and `b` name versions of the served model's registered name: a version
number ("3"), an alias ("champion") or "current" (whatever the service serves).
Aliases are resolved on every request (they move); the models themselves are
loaded through `training.registry.load_model` (sha256-checked) in a daemon
thread, off the event loop, and kept in a small LRU cache of at most
`MAX_CACHED_MODELS` bundles, so comparing two versions does not hold more than a
few models in memory. The served version is never loaded twice: it is taken
from the model store.
"""

from __future__ import annotations

import functools
import re
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import anyio
from fastapi import APIRouter, Request, Response

from service.dependencies import serving_model
from service.encoding import to_json
from service.errors import ClientError
from service.model_store import (
    ALIAS_NOT_SET,
    MODEL_NOT_FOUND,
    REGISTRY_UNREACHABLE,
    describe_error,
    explain_failure,
    in_daemon_thread,
)
from service.routes.classify import ERRORS, label_sets_of, role_of, run_classifier, text_paragraphs
from service.routes.models import listing_timeout
from service.schemas import ClassifyRequest, CompareRequest, CompareResponse, ErrorResponse
from service.settings import Settings

if TYPE_CHECKING:
    from service.model_store import ServedModel
    from training.bundle import ModelBundle
    from training.registry import ModelRef

router = APIRouter(tags=["classify"])

MAX_CACHED_MODELS = 3  # a default model is ~100-250 MB in memory: a few, not every version
CURRENT = "current"
_VERSION = re.compile(r"^\d+$")
_ALIAS = re.compile(r"^[A-Za-z0-9_-]+$")  # what MLflow accepts as an alias, so no URI can be smuggled in


class CompareModels:
    """An LRU cache of loaded versions, keyed by (name, version); loads run one at a time."""

    def __init__(self, cache_dir: Any = None, capacity: int = MAX_CACHED_MODELS):
        self.cache_dir = cache_dir
        self.capacity = capacity
        self._models: OrderedDict[tuple[str, str], ModelBundle] = OrderedDict()
        self._lock = threading.Lock()  # two requests for one version download it once

    def cached(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._models)

    def get(self, name: str, version: str) -> ModelBundle:
        from training.registry import load_model

        key = (name, version)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            bundle, _ = load_model(f"models:/{name}/{version}", self.cache_dir)
            self._models[key] = bundle
            while len(self._models) > self.capacity:
                self._models.popitem(last=False)
            return bundle


def compare_models(request: Request) -> CompareModels:
    state = request.app.state
    if getattr(state, "compare_models", None) is None:
        state.compare_models = CompareModels(state.settings.model_cache_dir)
    models: CompareModels = state.compare_models
    return models


def resolve(choice: str, field: str, served: ServedModel) -> ModelRef:
    """Which version `choice` means, asking the registry for aliases; 422 naming the field if it means none."""
    from training.registry import ModelRef, resolve_model

    if choice == CURRENT:
        return served.ref
    if served.ref.version is None:
        raise ClientError(
            422,
            ["body", field],
            f"'{choice}': the service serves a local model directory ({served.ref.uri}), which has no other "
            f"versions; use '{CURRENT}'",
            "no_registry",
        )
    name = served.ref.name
    if _VERSION.match(choice):
        uri = f"models:/{name}/{choice}"
    elif _ALIAS.match(choice):
        uri = f"models:/{name}@{choice}"
    else:
        raise ClientError(
            422, ["body", field], f"'{choice}' is neither a version number, an alias nor '{CURRENT}'", "bad_version"
        )
    try:
        ref = resolve_model(uri)
    except Exception as exc:  # the registry is down (502), or no such version or alias (422)
        failure = explain_failure(exc, uri)
        if failure.reason == REGISTRY_UNREACHABLE:
            raise ClientError(502, ["body", field], failure.message, failure.reason) from None
        # Said without the registry's address: a client needs to know the version is not there, not where the
        # registry keeps its files (a SQLite path on the server).
        what = f"version {choice}" if _VERSION.match(choice) else f"alias '{choice}'"
        if failure.reason in (ALIAS_NOT_SET, MODEL_NOT_FOUND):
            raise ClientError(
                422, ["body", field], f"registered model '{name}' has no {what}", "unknown_version"
            ) from None
        raise ClientError(
            502, ["body", field], f"the registry could not say which model {what} is", failure.reason
        ) from None
    return ModelRef(uri=ref.uri, name=ref.name, version=ref.version, alias=ref.alias, run_id=ref.run_id)


def bundle_for(ref: ModelRef, served: ServedModel, models: CompareModels) -> ModelBundle:
    if ref.version == served.ref.version:
        return served.bundle
    assert ref.version is not None
    return models.get(ref.name, ref.version)


def differing(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[int]:
    """Indexes of the paragraphs given another role or other labels (as sets: order by score is not a change)."""

    def decision(paragraph: dict[str, Any]) -> tuple[Any, ...]:
        labels = paragraph.get("labels") or {}
        return paragraph.get("role"), tuple(sorted((k, frozenset(v)) for k, v in labels.items()))

    return [i for i, (pa, pb) in enumerate(zip(a, b, strict=True)) if decision(pa) != decision(pb)]


def describe(ref: ModelRef) -> dict[str, Any]:
    return {"name": ref.name, "version": ref.version, "alias": ref.alias, "run_id": ref.run_id}


@router.post(
    "/v1/compare",
    summary="Classify an article with two versions of the model",
    response_model=CompareResponse,
    responses={
        **ERRORS,
        502: {"model": ErrorResponse, "description": "The registry is unreachable, or a version could not be loaded"},
        504: {"model": ErrorResponse, "description": "The model registry did not answer in time"},
    },
)
async def compare(body: CompareRequest, request: Request) -> Response:
    """The article classified by versions `a` and `b` (explanations off, scores on), and the indexes of the
    paragraphs whose role or labels differ between them."""
    served = await serving_model(request)
    settings: Settings = request.app.state.settings
    given: dict[str, Any] = {"text": body.text, "text_format": body.text_format, "role": body.role}
    as_classify = ClassifyRequest.model_validate(given | ({"label_sets": body.label_sets} if body.label_sets else {}))
    paragraphs, text_format = await text_paragraphs(as_classify, settings)
    label_sets = label_sets_of(as_classify, served.bundle)
    models = compare_models(request)
    timeout = listing_timeout(settings)
    try:
        with anyio.fail_after(timeout):
            refs = [
                await anyio.to_thread.run_sync(resolve, body.a, "a", served, abandon_on_cancel=True),
                await anyio.to_thread.run_sync(resolve, body.b, "b", served, abandon_on_cancel=True),
            ]
    except TimeoutError:
        raise ClientError(
            504, [], f"the model registry did not answer within {timeout:.0f} s", "registry_timeout"
        ) from None
    sides = []
    for ref, field in zip(refs, ("a", "b"), strict=True):
        try:
            bundle = await in_daemon_thread(
                functools.partial(bundle_for, ref, served, models), "topicframe-compare-load"
            )
        except Exception as exc:
            raise ClientError(
                502, ["body", field], f"version {ref.version} could not be loaded: {describe_error(exc)}", "load_failed"
            ) from None
        missing = [name for name in label_sets if name not in bundle.content_label_sets]
        if missing:
            raise ClientError(
                422,
                ["body", field],
                f"version {ref.version} has no label set {', '.join(missing)}",
                "unknown_label_set",
            )
        role = role_of(as_classify, bundle)  # each version's own role codebook
        result = await anyio.to_thread.run_sync(
            functools.partial(run_classifier, bundle, paragraphs, label_sets, 0, True, role=role)
        )
        sides.append({"model": describe(ref), **result})
    changed = differing(sides[0]["paragraphs"], sides[1]["paragraphs"])
    response = {"text_format": text_format, "a": sides[0], "b": sides[1], "differences": changed}
    return Response(to_json(response), media_type="application/json")
