"""Attachments: the upload, deleting one, and serving files and thumbnails to
anyone with the URL."""

import logging
import re
import secrets
import unicodedata

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from .. import headers as answer_headers
from .. import media, model, texts
from ..envelope import Ok, read_json
from ..errors import ClientDisconnected, Invalid
from ..handlers import store_of
from ..keys import CONFIG, MEDIA_POOL, USER
from ..store import attachments
from ..validate import attachments as forms

log = logging.getLogger("orderdesk")

READ_CHUNK = 64 * 1024
# Parts a multipart body may hold: the file and a few fields a form may add. Each part
# costs far more to parse than its bytes, so the ninth is refused before it is read.
MAX_PARTS = 8
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
    saved = await store_of(request).write(
        attachments.save_attachment, request[USER]["id"], new, config.upload_quota_mb * 2**20
    )
    return Ok(saved, texts.UPLOADED)


async def _read_file_part(request: web.Request, limit_mb: int) -> tuple[bytes, str]:
    """The bytes and client file name of the part named `file`, read in chunks and
    refused as soon as the body passes the limit (the app's 1 MiB does not apply) or
    holds more than MAX_PARTS parts. The body is read to its closing boundary: one that
    ends before it (a client that stopped sending) stores nothing."""
    limit = limit_mb * 2**20
    too_large = Invalid(texts.UPLOAD_TOO_LARGE, limit=limit_mb)
    body_limit = limit + MULTIPART_FRAMING
    if request.content_length is not None and request.content_length > body_limit:
        raise too_large
    if request.content_type != "multipart/form-data":
        raise Invalid(texts.UPLOAD_NOT_MULTIPART)
    read, count, found = 0, 0, None
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            count += 1
            if count > MAX_PARTS:
                raise Invalid(texts.UPLOAD_TOO_MANY_PARTS, limit=MAX_PARTS)
            if not isinstance(part, BodyPartReader):  # a nested multipart/* part
                raise Invalid(texts.UPLOAD_NOT_MULTIPART)
            wanted = part.name == "file" and found is None
            data = bytearray()
            while chunk := await part.read_chunk(READ_CHUNK):
                read += len(chunk)
                if read > body_limit or (wanted and len(data) + len(chunk) > limit):
                    raise too_large
                if wanted:
                    data += chunk
            if not part.at_eof():  # the body ended inside this part
                raise Invalid(texts.UPLOAD_INCOMPLETE)
            if wanted:
                found = bytes(data), _client_file_name(part.filename or "")
    except ConnectionResetError:
        raise ClientDisconnected() from None
    except (ValueError, AssertionError, RuntimeError, HttpProcessingError):  # malformed multipart
        if request.content.at_eof() and count:  # the body ended before its closing boundary
            raise Invalid(texts.UPLOAD_INCOMPLETE) from None
        raise Invalid(texts.UPLOAD_NOT_MULTIPART) from None
    if found is None:
        raise Invalid(texts.UPLOAD_NO_FILE)
    return found


def _client_file_name(sent: str) -> str:
    """Without any directory part, control or format character, or a lone surrogate (a
    header byte that was not UTF-8), at most 255 characters."""
    base = re.split(r"[\\/]", sent)[-1]
    unwanted = ("Cc", "Cf", "Cs")
    clean = "".join(c for c in base if unicodedata.category(c) not in unwanted).strip()
    return clean[: model.FILE_NAME_MAX]


async def delete(request: web.Request) -> Ok:
    """The caller's own upload, file and thumbnail; anyone else's is "not found"."""
    attachment_id = forms.ATTACHMENT_ID.parse(await read_json(request))
    await store_of(request).write(attachments.delete_attachment, request[USER]["id"], attachment_id)
    return Ok(text=texts.ATTACHMENT_DELETED)


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
    stored = await store.read(attachments.stored_file, name, thumb)
    if stored is None:
        raise web.HTTPNotFound()
    etag = f'"{stored["md5"]}{"-thumb" if thumb else ""}"'
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE}
    if stored["content_type"] == media.PDF.content_type:
        headers["Content-Disposition"] = "attachment"
    if _matches(request.headers.get("If-None-Match", ""), etag):
        return web.Response(status=304, headers=headers)
    response = web.StreamResponse(headers=answer_headers.streamed(request, headers))
    response.content_type = stored["content_type"]
    response.content_length = stored["size"]
    try:
        await response.prepare(request)
        for offset in range(0, stored["size"], SERVE_SLICE):
            piece = await store.read(attachments.read_slice, stored, offset, SERVE_SLICE)
            if piece is None:  # deleted meanwhile: the client gets a short answer
                log.info("%s: deleted during the download", request.path)
                if request.transport is not None:
                    request.transport.close()
                return response
            await response.write(piece)
        await response.write_eof()
    except ConnectionError:  # the client went away (reset, or closed while we waited)
        log.info("%s: the client disconnected during the download", request.path)
    return response


def _matches(if_none_match: str, etag: str) -> bool:
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags
