"""What an uploaded file is (spec 7): an image recognized by decoding it, or a PDF by its
signature; its metadata removed; its thumbnail. Pure CPU work on bytes, run off the
event loop (handlers/attachments.py): no I/O and no shared state here.

Metadata is removed from the file's own structure (JPEG segments, PNG chunks, GIF
extensions, WebP chunks) rather than by re-encoding, so a JPEG keeps its exact pixels:
what rendering needs (pixel data, palettes, transparency, color profiles, animation
control) is kept by an allow-list, everything else (EXIF, GPS, XMP, IPTC, comments, text
chunks, trailing bytes) is dropped. The stripped bytes are then decoded in full: what is
stored is what was checked.
"""

import hashlib
import io
import re
from dataclasses import dataclass

from PIL import Image

from . import texts
from .errors import Invalid

MAX_PIXELS = 40_000_000
THUMB_SIDE = 320

# Pillow's own bomb guard, at our limit: Image.open raises DecompressionBombError past
# twice it and warns between (an error where warnings are errors); _check_pixels refuses
# anything past MAX_PIXELS right after the header is read, before any pixel is decoded.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
_BOMB = (Image.DecompressionBombError, Image.DecompressionBombWarning)

PDF_SIGNATURE = b"%PDF-"


@dataclass(frozen=True)
class Kind:
    extension: str
    content_type: str
    pillow_format: str  # "" for PDF


KINDS = {
    "JPEG": Kind("jpg", "image/jpeg", "JPEG"),
    "PNG": Kind("png", "image/png", "PNG"),
    "GIF": Kind("gif", "image/gif", "GIF"),
    "WEBP": Kind("webp", "image/webp", "WEBP"),
}
PDF = Kind("pdf", "application/pdf", "")
# Pillow names a JPEG holding more pictures (many phone cameras write them) MPO: it is
# stored as the plain JPEG of its first picture, the rest goes with the metadata.
_DECODERS = list(KINDS)  # Pillow's JPEG decoder opens MPO files too
KINDS["MPO"] = KINDS["JPEG"]
KIND_BY_EXTENSION = {kind.extension: kind for kind in (*KINDS.values(), PDF)}


@dataclass(frozen=True)
class Prepared:
    """An accepted upload, ready to store."""

    kind: Kind
    data: bytes
    md5: str
    width: int
    height: int
    thumb: bytes | None  # None for PDF


def prepare(data: bytes) -> Prepared:
    """Check an upload and make what is stored of it; raises Invalid with the reason."""
    if not data:
        raise Invalid(texts.UPLOAD_EMPTY)
    if data.startswith(PDF_SIGNATURE):
        return Prepared(PDF, data, hashlib.md5(data).hexdigest(), 0, 0, None)
    kind = KINDS.get(_header_format(data))
    if kind is None:
        raise Invalid(texts.UPLOAD_TYPE)
    try:
        stripped = _STRIPPERS[kind.pillow_format](data)
        image = Image.open(io.BytesIO(stripped), formats=[kind.pillow_format])
        _check_pixels(image)
        image.load()
        width, height = image.size
        thumb = _thumbnail(image, kind)
    except Invalid:
        raise
    except _BOMB:
        raise Invalid(texts.UPLOAD_TOO_MANY_PIXELS, limit=MAX_PIXELS // 1_000_000) from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError):
        raise Invalid(texts.UPLOAD_DAMAGED) from None
    return Prepared(kind, stripped, hashlib.md5(stripped).hexdigest(), width, height, thumb)


def _header_format(data: bytes) -> str | None:
    """The Pillow format whose decoder accepts the header, if one of ours; reads no
    pixels, and refuses a size past MAX_PIXELS before anything is decoded."""
    try:
        image = Image.open(io.BytesIO(data), formats=_DECODERS)
    except _BOMB:
        raise Invalid(texts.UPLOAD_TOO_MANY_PIXELS, limit=MAX_PIXELS // 1_000_000) from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError):
        return None
    _check_pixels(image)
    return image.format


def _check_pixels(image: Image.Image) -> None:
    if image.width * image.height > MAX_PIXELS:
        raise Invalid(texts.UPLOAD_TOO_MANY_PIXELS, limit=MAX_PIXELS // 1_000_000)


def _thumbnail(image: Image.Image, kind: Kind) -> bytes:
    """At most THUMB_SIDE on the long side, in the file's own format, no metadata; the
    first frame of an animation. Shrinks `image` itself where its mode allows, so a
    large photo is not copied whole first."""
    image.seek(0)
    frame = image if image.mode in ("RGB", "RGBA", "L", "LA") else image.convert("RGBA")
    frame.thumbnail((THUMB_SIDE, THUMB_SIDE))
    if kind.pillow_format == "JPEG" or frame.mode not in ("RGBA", "LA"):
        frame = frame.convert("RGB")
    out = io.BytesIO()
    options = {"quality": 85} if kind.pillow_format in ("JPEG", "WEBP") else {}
    frame.save(out, kind.pillow_format, **options)
    return out.getvalue()


class _Truncated(ValueError):
    pass


def _need(data: bytes, end: int) -> None:
    if end > len(data):
        raise _Truncated()


# ---------------------------------------------------------------- JPEG

# A marker after entropy-coded data: 0xFF not followed by a stuffed 0, a restart
# marker or another fill byte.
_JPEG_MARKER = re.compile(rb"\xff(?=[^\x00\xd0-\xd7\xff])")
# APPn segments that rendering needs: JFIF, the ICC color profile, Adobe's color transform.
_JPEG_KEPT_APP = {0xE0: b"JFIF\x00", 0xE2: b"ICC_PROFILE\x00", 0xEE: b"Adobe"}
_JPEG_COMMENT = 0xFE


def _strip_jpeg(data: bytes) -> bytes:
    out, pos = [data[:2]], 2
    while True:
        _need(data, pos + 2)
        if data[pos] != 0xFF:
            raise _Truncated()
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:  # end of image; anything after it is dropped
            out.append(b"\xff\xd9")
            return b"".join(out)
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # no length
            out.append(data[pos : pos + 2])
            pos += 2
            continue
        _need(data, pos + 4)
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        _need(data, end)
        is_app = 0xE0 <= marker <= 0xEF
        prefix = _JPEG_KEPT_APP.get(marker)
        if not (is_app or marker == _JPEG_COMMENT) or (
            prefix is not None and data[pos + 4 : end].startswith(prefix)
        ):
            out.append(data[pos:end])
        pos = end
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next marker
            found = _JPEG_MARKER.search(data, pos)
            if found is None:
                raise _Truncated()
            out.append(data[pos : found.start()])
            pos = found.start()


# ---------------------------------------------------------------- PNG

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Critical chunks, transparency, color, physical size and APNG animation; not tEXt,
# zTXt, iTXt, eXIf, tIME or any private chunk.
_PNG_KEPT = {
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP",
    b"sBIT", b"bKGD", b"pHYs", b"acTL", b"fcTL", b"fdAT",
}  # fmt: skip


def _strip_png(data: bytes) -> bytes:
    if not data.startswith(_PNG_SIGNATURE):
        raise _Truncated()
    out, pos = [_PNG_SIGNATURE], len(_PNG_SIGNATURE)
    while True:
        _need(data, pos + 8)
        length, kind = int.from_bytes(data[pos : pos + 4], "big"), data[pos + 4 : pos + 8]
        end = pos + 12 + length
        _need(data, end)
        if kind in _PNG_KEPT:
            out.append(data[pos:end])
        if kind == b"IEND":
            return b"".join(out)
        pos = end


# ---------------------------------------------------------------- GIF

_GIF_KEPT_APPLICATIONS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")  # looping


def _gif_sub_blocks_end(data: bytes, pos: int) -> int:
    while True:
        _need(data, pos + 1)
        size = data[pos]
        pos += 1 + size
        if size == 0:
            _need(data, pos)
            return pos


def _gif_color_table_size(flags: int) -> int:
    return 3 * (2 << (flags & 7)) if flags & 0x80 else 0


def _strip_gif(data: bytes) -> bytes:
    _need(data, 13)
    pos = 13 + _gif_color_table_size(data[10])
    _need(data, pos)
    out = [data[:pos]]
    while True:
        _need(data, pos + 1)
        introducer = data[pos]
        if introducer == 0x3B:  # trailer
            out.append(b"\x3b")
            return b"".join(out)
        if introducer == 0x2C:  # an image: descriptor, color table, LZW size, data
            _need(data, pos + 10)
            start = pos + 10 + _gif_color_table_size(data[pos + 9]) + 1
            end = _gif_sub_blocks_end(data, start)
            out.append(data[pos:end])
        elif introducer == 0x21:  # extension: keep graphic control and looping only
            _need(data, pos + 2)
            label = data[pos + 1]
            end = _gif_sub_blocks_end(data, pos + 2)
            first_block = data[pos + 3 : pos + 3 + data[pos + 2]]
            if label == 0xF9 or (label == 0xFF and first_block in _GIF_KEPT_APPLICATIONS):
                out.append(data[pos:end])
        else:
            raise _Truncated()
        pos = end


# ---------------------------------------------------------------- WebP

_WEBP_KEPT = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"}
_VP8X_EXIF_AND_XMP = 0x08 | 0x04


def _strip_webp(data: bytes) -> bytes:
    _need(data, 12)
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise _Truncated()
    body_end = 8 + int.from_bytes(data[4:8], "little")
    _need(data, body_end)
    chunks, pos = [], 12
    while pos < body_end:
        _need(data, pos + 8)
        kind, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        _need(data, pos + 8 + size)
        chunk = data[pos : pos + 8 + size] + b"\x00" * (size & 1)  # chunks are padded to even
        if kind == b"VP8X":
            _need(data, pos + 9)
            chunk = chunk[:8] + bytes([chunk[8] & ~_VP8X_EXIF_AND_XMP & 0xFF]) + chunk[9:]
        if kind in _WEBP_KEPT:
            chunks.append(chunk)
        pos += len(chunk)
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


_STRIPPERS = {"JPEG": _strip_jpeg, "PNG": _strip_png, "GIF": _strip_gif, "WEBP": _strip_webp}
