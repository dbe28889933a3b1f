"""What an uploaded file is: an image recognized by decoding it, or a PDF by its
signature; its metadata removed; its thumbnail. Pure CPU work on bytes with no I/O and
no shared state: media_worker.py runs it in a separate process, under the limits below.

Metadata is removed from the file's own structure (JPEG segments, PNG chunks, GIF
extensions, WebP chunks) rather than by re-encoding, so a JPEG keeps its exact pixels:
what rendering needs (pixel data, palettes, transparency, color profiles, animation
control) is kept by an allow-list, everything else (EXIF, GPS, XMP, IPTC, comments, text
chunks, trailing bytes) is dropped. The stripped bytes are then decoded in full: what is
stored is what was checked. The one exception is an EXIF orientation other than 1: the
decoded pixels are turned as it says and encoded again (the file's format, no metadata),
so the image shows the right way up without the metadata that said how.

Work happens in two steps, so that each can have its own CPU limit: `decode` (recognize,
strip, decode in full: what a crafted file can make expensive, at most
DECODE_CPU_SECONDS) and `finish` (orientation, thumbnail: bounded by the pixel count, at
most FINISH_CPU_SECONDS). MEMORY_BYTES bounds both together.
"""

import hashlib
import io
import re
from dataclasses import dataclass

from PIL import Image, JpegImagePlugin

from . import texts
from .errors import Invalid

MAX_PIXELS = 40_000_000
THUMB_SIDE = 320
# What one image may cost: CPU seconds to decode it, CPU seconds to turn and thumbnail
# it once decoded, memory for all of it. Enforced by the worker process (media_worker.py).
DECODE_CPU_SECONDS = 1.0
FINISH_CPU_SECONDS = 2.0
MEMORY_BYTES = 256 * 2**20
# A JPEG of more scans is refused before decoding: a progressive JPEG needs about ten,
# and each scan, however small, makes the decoder walk the whole image again.
MAX_JPEG_SCANS = 100

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

# The refusals `prepare` raises, by name: what a worker process may report back.
REFUSALS = {
    name: getattr(texts, name)
    for name in (
        "UPLOAD_EMPTY",
        "UPLOAD_TYPE",
        "UPLOAD_DAMAGED",
        "UPLOAD_TOO_MANY_PIXELS",
        "UPLOAD_TOO_MANY_SCANS",
        "UPLOAD_TOO_COSTLY",
    )
}


def too_costly() -> Invalid:
    return Invalid(
        texts.UPLOAD_TOO_COSTLY,
        seconds=f"{DECODE_CPU_SECONDS:g}",
        mb=MEMORY_BYTES // 2**20,
    )


@dataclass(frozen=True)
class Prepared:
    """An accepted upload, ready to store."""

    kind: Kind
    data: bytes
    md5: str
    width: int
    height: int
    thumb: bytes | None  # None for PDF


@dataclass
class Decoded:
    """An upload after `decode`: a PDF as sent, or a fully decoded image."""

    kind: Kind
    data: bytes  # what is stored unless the image is turned
    image: Image.Image | None = None  # None for PDF
    orientation: int = 1  # the EXIF orientation the original held
    webp_lossless: bool = False
    memory: int = 0  # what decoding (and turning) it takes, as _memory_needed reckons


def prepare(data: bytes) -> Prepared:
    """Check an upload and make what is stored of it; raises Invalid with the reason."""
    return finish(decode(data))


def decode(data: bytes) -> Decoded:
    """Recognize the upload, strip an image's metadata and decode what is left in full;
    raises Invalid with the reason."""
    if not data:
        raise Invalid(texts.UPLOAD_EMPTY)
    if data.startswith(PDF_SIGNATURE):
        return Decoded(PDF, data)
    found = _header_format(data)
    kind = KINDS.get(found) if found is not None else None
    if kind is None:
        raise Invalid(texts.UPLOAD_TYPE)
    memory = 0
    try:
        stripped = _STRIPPERS[kind.pillow_format](data)
        image = Image.open(io.BytesIO(stripped.data), formats=[kind.pillow_format])
        _check_pixels(image)
        orientation = _orientation(stripped.exif)
        memory = _memory_needed(image, stripped.scans, turned=orientation != 1)
        if memory > MEMORY_BYTES:  # refused before decoding, rather than part way
            raise too_costly()
        image.load()
    except Invalid:
        raise
    except _BOMB:
        raise Invalid(texts.UPLOAD_TOO_MANY_PIXELS, limit=MAX_PIXELS // 1_000_000) from None
    except MemoryError:
        raise too_costly() from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError):
        raise _damaged_or_costly(memory) from None
    return Decoded(kind, stripped.data, image, orientation, stripped.webp_lossless, memory)


def finish(decoded: Decoded) -> Prepared:
    """Turn the image as its orientation said (encoding it again) and make its thumbnail."""
    kind, data, image = decoded.kind, decoded.data, decoded.image
    if image is None:
        return Prepared(kind, data, hashlib.md5(data).hexdigest(), 0, 0, None)
    try:
        method = _TRANSPOSE.get(decoded.orientation)
        if method is not None and getattr(image, "n_frames", 1) == 1:
            turned = image.transpose(method)
            image.close()
            data, image = _encode_turned(turned, image, decoded), turned
        width, height = image.size
        thumb = _thumbnail(image, kind)
    except MemoryError:
        raise too_costly() from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError):
        raise _damaged_or_costly(decoded.memory) from None
    return Prepared(kind, data, hashlib.md5(data).hexdigest(), width, height, thumb)


def _damaged_or_costly(memory: int) -> Invalid:
    """Why decoding failed. A decoder that runs out of memory says so no differently
    from a damaged file (libjpeg: "broken data stream"): when the image needs a good
    part of MEMORY_BYTES, the limit is taken to be the reason."""
    if memory > MEMORY_BYTES // 2:
        return too_costly()
    return Invalid(texts.UPLOAD_DAMAGED)


def _memory_needed(image: Image.Image, scans: int, *, turned: bool) -> int:
    """About what decoding `image` takes, from its header: the decoded pixels (Pillow
    holds 1, 2 or 4 bytes a pixel), libjpeg's coefficients of the whole image for a
    JPEG of more than one scan (2 bytes each), libwebp's own copy of the pixels (two
    more for an animation), and a second copy of the pixels when they are turned."""
    width, height = image.size
    pixels = (
        width * height * (1 if image.mode in ("1", "L", "P") else 2 if "I;16" in image.mode else 4)
    )
    need = pixels * (2 if turned else 1)
    if image.format == "JPEG" and (scans > 1 or image.info.get("progressive")):
        layers = getattr(image, "layer", [])
        h_max = max((h for _, h, _, _ in layers), default=1)
        v_max = max((v for _, _, v, _ in layers), default=1)
        for _, h, v, _ in layers:
            columns, rows = -(-width * h // h_max), -(-height * v // v_max)
            need += -(-columns // 8) * -(-rows // 8) * 64 * 2
    elif image.format == "WEBP":
        need += width * height * 4 * (3 if getattr(image, "n_frames", 1) > 1 else 1)
    return need


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


# ---------------------------------------------------------------- orientation

_ORIENTATION_TAG = 0x0112
# EXIF orientation -> the transposition that shows the image the right way up.
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _orientation(exif: bytes | None) -> int:
    """The orientation an EXIF block (TIFF, with or without the "Exif" prefix) holds; 1
    when there is none or it cannot be read."""
    if not exif:
        return 1
    try:
        parsed = Image.Exif()
        parsed.load(exif)
        value = parsed.get(_ORIENTATION_TAG, 1)
    except Exception:  # any malformed EXIF: Pillow's parser raises all kinds
        return 1
    return value if isinstance(value, int) and value in _TRANSPOSE else 1


def _encode_turned(turned: Image.Image, original: Image.Image, decoded: Decoded) -> bytes:
    """The turned pixels in the file's own format, with the color profile and nothing
    else; fast encoder settings, since the work is bounded by FINISH_CPU_SECONDS."""
    out = io.BytesIO()
    options: dict[str, object] = {}
    icc = original.info.get("icc_profile")
    if icc:
        options["icc_profile"] = icc
    fmt = decoded.kind.pillow_format
    if fmt == "JPEG":
        options.update(quality=95, subsampling=JpegImagePlugin.get_sampling(original))
    elif fmt == "PNG":
        options["compress_level"] = 1
        if "transparency" in original.info:
            options["transparency"] = original.info["transparency"]
    elif fmt == "WEBP":
        if decoded.webp_lossless:
            options.update(lossless=True, exact=True, quality=0, method=0)
        else:
            options.update(quality=95, method=0)
    turned.save(out, fmt, **options)
    return out.getvalue()


# ---------------------------------------------------------------- thumbnail

# Modes a thumbnail is made from directly; others are converted to RGBA a band at a
# time (a palette image of 40 megapixels would otherwise become 160 MB of RGBA at once).
_DIRECT_MODES = ("RGB", "RGBA", "L", "LA")
_BAND_PIXELS = 2**20


def _thumbnail(image: Image.Image, kind: Kind) -> bytes:
    """At most THUMB_SIDE on the long side, in the file's own format, no metadata; the
    first frame of an animation. Shrinks `image` itself where its mode allows, so a
    large photo is not copied whole first."""
    image.seek(0)
    frame = image if image.mode in _DIRECT_MODES else _reduced_rgba(image)
    frame.thumbnail((THUMB_SIDE, THUMB_SIDE))
    if kind.pillow_format == "JPEG" or frame.mode not in ("RGBA", "LA"):
        frame = frame.convert("RGB")
    out = io.BytesIO()
    options = {"quality": 85} if kind.pillow_format in ("JPEG", "WEBP") else {}
    frame.save(out, kind.pillow_format, **options)
    return out.getvalue()


def _reduced_rgba(image: Image.Image) -> Image.Image:
    """The image in RGBA, shrunk by a whole factor that leaves it at least twice
    THUMB_SIDE on its long side (the first step Image.thumbnail takes itself), converted
    and shrunk one band of rows at a time."""
    width, height = image.size
    factor = max(1, max(width, height) // (2 * THUMB_SIDE))
    rows = factor * max(1, _BAND_PIXELS // (width * factor))
    reduced = Image.new("RGBA", (-(-width // factor), -(-height // factor)))
    for top in range(0, height, rows):
        band = image.crop((0, top, width, min(top + rows, height))).convert("RGBA")
        reduced.paste(band.reduce(factor) if factor > 1 else band, (0, top // factor))
    return reduced


@dataclass(frozen=True)
class _Stripped:
    data: bytes
    exif: bytes | None = None  # the first EXIF block the original held, for its orientation
    webp_lossless: bool = False
    scans: int = 1  # a JPEG's


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
_JPEG_EXIF = b"Exif\x00\x00"


def _strip_jpeg(data: bytes) -> _Stripped:
    """Counts the scans on the way: past MAX_JPEG_SCANS, refused before any decoding."""
    out, pos, scans, exif = [data[:2]], 2, 0, None
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
            return _Stripped(b"".join(out), exif, scans=scans)
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # no length
            out.append(data[pos : pos + 2])
            pos += 2
            continue
        _need(data, pos + 4)
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        _need(data, end)
        is_app = 0xE0 <= marker <= 0xEF
        if marker == 0xE1 and exif is None and data[pos + 4 : end].startswith(_JPEG_EXIF):
            exif = data[pos + 4 : end]
        prefix = _JPEG_KEPT_APP.get(marker)
        if not (is_app or marker == _JPEG_COMMENT) or (
            prefix is not None and data[pos + 4 : end].startswith(prefix)
        ):
            out.append(data[pos:end])
        pos = end
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next marker
            scans += 1
            if scans > MAX_JPEG_SCANS:
                raise Invalid(texts.UPLOAD_TOO_MANY_SCANS, limit=MAX_JPEG_SCANS)
            found = _JPEG_MARKER.search(data, pos)
            if found is None:
                raise _Truncated()
            out.append(data[pos : found.start()])
            pos = found.start()


# ---------------------------------------------------------------- PNG

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Critical chunks, transparency, color, physical size and APNG animation; not tEXt,
# zTXt, iTXt, eXIf (read for its orientation only), tIME or any private chunk.
_PNG_KEPT = {
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP",
    b"sBIT", b"bKGD", b"pHYs", b"acTL", b"fcTL", b"fdAT",
}  # fmt: skip


def _strip_png(data: bytes) -> _Stripped:
    if not data.startswith(_PNG_SIGNATURE):
        raise _Truncated()
    out, pos, exif = [_PNG_SIGNATURE], len(_PNG_SIGNATURE), None
    while True:
        _need(data, pos + 8)
        length, kind = int.from_bytes(data[pos : pos + 4], "big"), data[pos + 4 : pos + 8]
        end = pos + 12 + length
        _need(data, end)
        if kind in _PNG_KEPT:
            out.append(data[pos:end])
        elif kind == b"eXIf" and exif is None:
            exif = data[pos + 8 : end - 4]
        if kind == b"IEND":
            return _Stripped(b"".join(out), exif)
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


def _strip_gif(data: bytes) -> _Stripped:
    _need(data, 13)
    pos = 13 + _gif_color_table_size(data[10])
    _need(data, pos)
    out = [data[:pos]]
    while True:
        _need(data, pos + 1)
        introducer = data[pos]
        if introducer == 0x3B:  # trailer
            out.append(b"\x3b")
            return _Stripped(b"".join(out))
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


def _strip_webp(data: bytes) -> _Stripped:
    _need(data, 12)
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise _Truncated()
    body_end = 8 + int.from_bytes(data[4:8], "little")
    _need(data, body_end)
    chunks, pos, exif = [], 12, None
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
        elif kind == b"EXIF" and exif is None:
            exif = data[pos + 8 : pos + 8 + size]
        pos += len(chunk)
    body = b"WEBP" + b"".join(chunks)
    # Lossless: its pixels are stored exactly, so a turned copy is encoded losslessly too.
    lossless = any(c.startswith(b"VP8L") for c in chunks) and not any(
        c.startswith(b"VP8 ") for c in chunks
    )
    return _Stripped(b"RIFF" + len(body).to_bytes(4, "little") + body, exif, lossless)


_STRIPPERS = {"JPEG": _strip_jpeg, "PNG": _strip_png, "GIF": _strip_gif, "WEBP": _strip_webp}
