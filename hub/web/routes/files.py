"""Images, served only by what the registry or the server itself recorded, never by a path in the URL:
previews by (adapter id, index), thumbnails of them, and the outputs of jobs this server ran."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from hub.errors import NotFoundError
from hub.registry import api as registry
from hub.web.deps import context, settings_of
from hub.web.thumbnails import thumbnail

CACHE = {"Cache-Control": "private, max-age=3600"}


def preview_path(request: Request) -> Path:
    adapter_id = request.path_params["adapter_id"]
    index = request.path_params["index"]
    with context(request) as ctx:
        previews = registry.preview_paths(adapter_id, ctx=ctx)
    if index >= len(previews):
        raise NotFoundError(f"adapter '{adapter_id}' has no preview {index}")
    return Path(previews[index])


def preview(request: Request) -> Response:
    path = preview_path(request)
    if not path.is_file():
        raise NotFoundError(f"the preview file is gone: {path.name}")
    return FileResponse(path, headers=CACHE)


def thumb(request: Request) -> Response:
    source = preview_path(request)
    cached = thumbnail(source, settings_of(request).paths.cache / "thumbs")
    if cached is None:
        raise NotFoundError(f"the preview {source.name} cannot be read as an image")
    return FileResponse(cached, media_type="image/webp", headers=CACHE)


def job_image(request: Request) -> Response:
    """An image a generation or grid job of this server wrote (its outputs are listed in the job)."""
    job = request.app.state.jobs.get(request.path_params["job_id"])
    index = request.path_params["index"]
    images = (job.result.get("images") or []) if job else []
    if index >= len(images):
        raise NotFoundError("no such image (jobs are forgotten when the server restarts; the files stay)")
    path = Path(images[index]["path"])
    if not path.is_file():
        raise NotFoundError(f"the image file is gone: {path.name}")
    return FileResponse(path, headers=CACHE)


routes = [
    Route("/preview/{adapter_id}/{index:int}", preview, name="preview"),
    Route("/thumb/{adapter_id}/{index:int}", thumb, name="thumb"),
    Route("/jobs/{job_id}/image/{index:int}", job_image, name="job_image"),
]
