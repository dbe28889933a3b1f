"""Attachments (spec 7): the upload, and serving files and thumbnails to anyone with the URL."""

import logging
import re
import secrets
import unicodedata

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from .. import media, model, texts
from ..envelope import Ok
from ..errors import ClientDisconnected, Invalid
from ..handlers import store_of
from ..keys import CONFIG, MEDIA_POOL, USER

log = logging.getLogger("orderdesk")

READ_CHUNK = 64 * 1024
# The body may exceed the file's limit by this much: boundaries and part headers.
MULTIPART_FRAMING = 64 * 1024
SERVE_SLICE = 256 * 1024  # how much of a file one database read fetches


async def upload(request: web.Request) -> Ok:
    config = request.app[CONFIG]
    data, file_name = await _read_file_part(request, config.max_upload_mb)
    # Decoding and thumbnailing take CPU: in a worker process, each image under its own
    # CPU and memory limits, so that other requests go on; one of the user's at a time.
    prepared = await request.app[MEDIA_POOL].prepare(data, request[USER]["id"])
    new = model.NewAttachment(
        name=f"{secrets.token_urlsafe(model.UPLOAD_NAME_BYTES)}.{prepared.kind.extension}",
        file_name=file_name,
        content_type=prepared.kind.content_type,
        data=prepared.data,
        md5=prepared.md5,
        width=prepared.width,
        height=prepared.height,
        thumb=prepared.thumb,
    )
    saved = await store_of(request).save_attachment(
        request[USER]["id"], new, config.upload_quota_mb * 2**20
    )
    return Ok(saved, texts.UPLOADED)


async def _read_file_part(request: web.Request, limit_mb: int) -> tuple[bytes, str]:
    """The bytes and client file name of the part named `file`, read in chunks and
    refused as soon as the body passes the limit (the app's 1 MiB does not apply)."""
    limit = limit_mb * 2**20
    too_large = Invalid(texts.UPLOAD_TOO_LARGE, limit=limit_mb)
    body_limit = limit + MULTIPART_FRAMING
    if request.content_length is not None and request.content_length > body_limit:
        raise too_large
    if request.content_type != "multipart/form-data":
        raise Invalid(texts.UPLOAD_NOT_MULTIPART)
    read = 0
    try:
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):  # a nested multipart/* part
                raise Invalid(texts.UPLOAD_NOT_MULTIPART)
            wanted = part.name == "file"
            data = bytearray()
            while chunk := await part.read_chunk(READ_CHUNK):
                read += len(chunk)
                if read > body_limit or (wanted and len(data) + len(chunk) > limit):
                    raise too_large
                if wanted:
                    data += chunk
            if wanted:
                return bytes(data), _client_file_name(part.filename or "")
    except ConnectionResetError:
        raise ClientDisconnected() from None
    except (ValueError, AssertionError, RuntimeError, HttpProcessingError):  # malformed multipart
        raise Invalid(texts.UPLOAD_NOT_MULTIPART) from None
    raise Invalid(texts.UPLOAD_NO_FILE)


def _client_file_name(sent: str) -> str:
    """Without any directory part, control or format character, or a lone surrogate (a
    header byte that was not UTF-8), at most 255 characters."""
    base = re.split(r"[\\/]", sent)[-1]
    unwanted = ("Cc", "Cf", "Cs")
    clean = "".join(c for c in base if unicodedata.category(c) not in unwanted).strip()
    return clean[: model.FILE_NAME_MAX]


async def serve_file(request: web.Request) -> web.StreamResponse:
    return await _serve(request, thumb=False)


async def serve_thumb(request: web.Request) -> web.StreamResponse:
    return await _serve(request, thumb=True)


IMMUTABLE = "public, max-age=31536000, immutable"


async def _serve(request: web.Request, *, thumb: bool) -> web.StreamResponse:
    """Streams the bytes from the database a slice at a time: a large file is never
    held whole in memory. nosniff and the sandboxed CSP come from headers.py."""
    name = request.match_info["name"]
    if not model.UPLOAD_NAME.fullmatch(name):
        raise web.HTTPNotFound()
    store = store_of(request)
    stored = await store.stored_file(name, thumb)
    if stored is None:
        raise web.HTTPNotFound()
    etag = f'"{stored["md5"]}{"-thumb" if thumb else ""}"'
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE}
    if stored["content_type"] == media.PDF.content_type:
        headers["Content-Disposition"] = "attachment"
    if _matches(request.headers.get("If-None-Match", ""), etag):
        return web.Response(status=304, headers=headers)
    response = web.StreamResponse(headers=headers)
    response.content_type = stored["content_type"]
    response.content_length = stored["size"]
    await response.prepare(request)
    try:
        for offset in range(0, stored["size"], SERVE_SLICE):
            await response.write(await store.read_file_slice(stored, offset, SERVE_SLICE))
        await response.write_eof()
    except ConnectionResetError:  # the client went away: nothing wrong with the server
        log.info("%s: the client disconnected during the download", request.path)
    return response


def _matches(if_none_match: str, etag: str) -> bool:
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags
