"""Uploads that cost the server far more than their size, for tests/test_uploads_hardening.py
and bench/uploads.py: a multipart body of many tiny parts, a progressive JPEG that
repeats one small scan, and a small palette PNG of many pixels."""

import io
import re

from PIL import Image

BOUNDARY = "b"


def many_parts(total_bytes: int = 2 * 2**20) -> tuple[bytes, str]:
    """A multipart body of `total_bytes` made of tiny fields and no file part, and its
    Content-Type: parsing every part costs the server far more than reading the bytes."""
    part = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n'.encode()
    closing = f"--{BOUNDARY}--\r\n".encode()
    count = (total_bytes - len(closing)) // len(part)
    return part * count + closing, f"multipart/form-data; boundary={BOUNDARY}"


def parts(count: int, file: bytes | None = None) -> bytes:
    """`count` small fields, then the file part if one is given, then the closing boundary."""
    body = b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="f{n}"\r\n\r\nx\r\n'.encode()
        for n in range(count)
    )
    if file is not None:
        body += (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
                'filename="doc.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
            ).encode()
            + file
            + b"\r\n"
        )
    return body + f"--{BOUNDARY}--\r\n".encode()


_MARKER = re.compile(rb"\xff(?=[^\x00\xd0-\xd7\xff])")


def _scans(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each scan of a JPEG: its SOS segment and its entropy-coded data."""
    pos, found = 2, []
    while data[pos + 1] != 0xD9:
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        if data[pos + 1] == 0xDA:
            end = _MARKER.search(data, end).start()
            found.append((pos, end))
        pos = end
    return found


def scan_bomb(side: int = 6000, repeats: int = 300) -> bytes:
    """A progressive JPEG of side x side pixels (one flat color) whose last scan, an AC
    refinement of the luma component (under 100 bytes), comes `repeats` more times:
    each one makes the decoder walk every block of the image again."""
    out = io.BytesIO()
    Image.new("RGB", (side, side), (120, 130, 140)).save(out, "JPEG", progressive=True)
    data = out.getvalue()
    start, end = _scans(data)[-1]
    return data[:end] + data[start:end] * repeats + data[end:]


def scan_count(data: bytes) -> int:
    return len(_scans(data))


def palette_bomb(side: int = 6300) -> bytes:
    """A palette PNG of side x side pixels (under 40 megapixels) in one color: about
    50 KB, which a decoder turning it into RGBA expands to 160 MB."""
    image = Image.new("P", (side, side), 3)
    image.putpalette(bytes(range(256)) * 3)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()
