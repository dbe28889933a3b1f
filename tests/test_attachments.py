"""Attachments: upload, refusals, metadata removal, thumbnails,
serving, the quota and the size limit, `thumb` of orders, backup and check."""

import asyncio
import hashlib
import io
import struct
import zlib
from typing import Any

import aiohttp
import pytest
from orderdesk import texts
from orderdesk.config import Config
from PIL import Image, ImageChops
from yarl import URL

from tests.conftest import (
    admin_detail,
    assert_fail,
    assert_ok,
    call,
    detail,
    make_admin,
    make_order,
    postgres_database_for_live_server,
    query_rows,
    register,
)
from tests.live import LiveServer, run_cli

UPLOAD = "/api/attachment/upload"
GPS_IFD = 0x8825
IMMUTABLE = "public, max-age=31536000, immutable"


def picture(width: int = 640, height: int = 480, mode: str = "RGB") -> Image.Image:
    """An image with distinct pixels, so a changed pixel shows."""
    image = Image.new(mode, (width, height))
    image.putdata(
        [((x * 7) % 256, (y * 5) % 256, (x + y) % 256) for y in range(height) for x in range(width)]
    )
    return image


def exif_with_gps() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0131] = "firmware 1.0"  # Software
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (31.0, 14.0, 3.0), 3: "E", 4: (121.0, 28.0, 5.0)})
    return exif


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def jpeg_with_metadata() -> bytes:
    return encode(picture(), "JPEG", exif=exif_with_gps(), comment=b"shot at home", quality=90)


def png_with_metadata() -> bytes:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "private note")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>GPS 31.2,121.4</x:xmpmeta>")
    return encode(picture(), "PNG", pnginfo=info, exif=exif_with_gps())


def gif_with_metadata() -> bytes:
    return encode(picture().convert("P"), "GIF", comment=b"private note")


def webp_with_metadata() -> bytes:
    return encode(picture(), "WEBP", exif=exif_with_gps(), lossless=True)


IMAGES = {
    "jpg": (jpeg_with_metadata, "image/jpeg", "JPEG"),
    "png": (png_with_metadata, "image/png", "PNG"),
    "gif": (gif_with_metadata, "image/gif", "GIF"),
    "webp": (webp_with_metadata, "image/webp", "WEBP"),
}
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def form(data: bytes | None, file_name: str = "photo.jpg", field: str = "file") -> aiohttp.FormData:
    # Multipart even without a file; the file name as a browser sends it.
    body = aiohttp.FormData(quote_fields=False, default_to_multipart=True)
    if data is not None:
        body.add_field(
            field, io.BytesIO(data), filename=file_name, content_type="application/octet-stream"
        )
    else:
        body.add_field("note", "no file here")
    return body


async def upload(client, token: str, data: bytes | None, file_name: str = "photo.jpg", **kw):
    return await call(client, "POST", UPLOAD, token=token, data=form(data, file_name, **kw))


async def uploaded(client, token: str, data: bytes, file_name: str = "photo.jpg") -> dict:
    body = await upload(client, token, data, file_name)
    assert body["msg"] == "file uploaded", body
    return assert_ok(body)


async def fetch(client, path: str, **headers: str) -> tuple[aiohttp.ClientResponse, bytes]:
    response = await client.get(URL(path, encoded=True), headers=headers)
    return response, await response.read()


async def stored(db: str) -> list[tuple]:
    """Every attachment row (without its bytes) and the quota each user has used."""
    rows = await query_rows(db, "SELECT id, user_id, name, file_size FROM attachments ORDER BY id")
    used = await query_rows(
        db, "SELECT user_id, sum(file_size) FROM attachments GROUP BY user_id ORDER BY user_id"
    )
    return rows + [("used",) + tuple(row) for row in used]


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def same_pixels(a: Image.Image, b: Image.Image) -> bool:
    return (
        a.size == b.size
        and ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is None
    )


# ---------------------------------------------------------------- accepted types


@pytest.mark.parametrize("ext", sorted(IMAGES))
async def test_each_image_type_is_accepted_stripped_and_served(client, ext):
    make, content_type, fmt = IMAGES[ext]
    token, _ = await register(client)
    original = make()
    item = await uploaded(client, token, original, f"C:\\Users\\me\\Pictures/holiday.{ext}")

    name = item["logo"].removeprefix("/uploads/")
    assert set(item) == {
        "id", "file_name", "file_location", "file_size", "file_md5", "width", "height",
        "is_image", "logo", "thumb", "created_time", "updated_time",
    }  # fmt: skip
    assert item["file_name"] == f"holiday.{ext}"  # no directory part
    assert item["file_location"] == f"uploads/{name}"
    assert name.endswith(f".{ext}") and "holiday" not in name
    assert len(name.split(".")[0]) >= 22  # at least 128 random bits, URL-safe
    assert (item["width"], item["height"], item["is_image"]) == (640, 480, 1)
    assert item["thumb"] == f"/uploads/thumb/{name}"
    assert item["created_time"] == item["updated_time"] > 0

    response, body = await fetch(client, item["logo"])
    assert response.status == 200
    assert response.headers["Content-Type"] == content_type
    assert len(body) == item["file_size"]
    assert hashlib.md5(body).hexdigest() == item["file_md5"]
    served = decoded(body)
    assert served.format == fmt and served.size == (640, 480)
    assert same_pixels(served, decoded(original))  # metadata gone, pixels kept
    assert len(body) < len(original)

    response, thumb = await fetch(client, item["thumb"])
    assert response.status == 200 and response.headers["Content-Type"] == content_type
    small = decoded(thumb)
    assert small.format == fmt and small.size == (320, 240)


async def test_metadata_is_gone_from_the_served_bytes(client):
    token, _ = await register(client)
    for make, *_ in IMAGES.values():
        original = make()
        item = await uploaded(client, token, original)
        _, body = await fetch(client, item["logo"])
        _, thumb = await fetch(client, item["thumb"])
        for served in (body, thumb):
            image = decoded(served)
            assert not image.getexif(), image.format
            assert not image.getexif().get_ifd(GPS_IFD)
            assert "exif" not in image.info and "xmp" not in image.info
            assert "comment" not in image.info and "Comment" not in image.info
            for secret in (b"SecretCam", b"firmware", b"private note", b"GPS", b"Exif"):
                assert secret not in served, (image.format, secret)


async def test_a_phone_jpeg_with_more_pictures_is_stored_as_its_first(client):
    first, second = picture(64, 48), Image.new("RGB", (64, 48), "blue")
    mpo = encode(first, "MPO", save_all=True, append_images=[second], exif=exif_with_gps())
    token, _ = await register(client)
    item = await uploaded(client, token, mpo, "phone.jpg")
    assert item["logo"].endswith(".jpg") and (item["width"], item["height"]) == (64, 48)
    _, body = await fetch(client, item["logo"])
    served = decoded(body)
    assert served.format == "JPEG" and not served.getexif()
    assert same_pixels(served, decoded(encode(first, "JPEG")))  # the first picture, as decoded
    assert b"SecretCam" not in body


@pytest.mark.parametrize("size, thumb", [((200, 1000), (64, 320)), ((100, 50), (100, 50))])
async def test_thumbnails_fit_320_pixels_on_the_long_side(client, size, thumb):
    token, _ = await register(client)
    item = await uploaded(client, token, encode(picture(*size), "PNG"), "tall.png")
    _, body = await fetch(client, item["thumb"])
    assert decoded(body).size == thumb


async def test_a_pdf_is_stored_as_sent_and_served_as_a_download(client):
    token, _ = await register(client)
    item = await uploaded(client, token, PDF, "brief.pdf")
    assert (item["width"], item["height"], item["is_image"], item["thumb"]) == (0, 0, 0, "")
    assert item["file_size"] == len(PDF) and item["file_md5"] == hashlib.md5(PDF).hexdigest()
    assert item["logo"].endswith(".pdf")
    response, body = await fetch(client, item["logo"])
    assert body == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == "attachment"
    response, _ = await fetch(client, item["logo"].replace("/uploads/", "/uploads/thumb/"))
    assert response.status == 404


async def test_a_large_file_is_served_whole_across_many_slices(client):
    token, _ = await register(client)
    data = PDF + bytes(range(256)) * 4000  # ~1 MiB: four database reads
    item = await uploaded(client, token, data, "big.pdf")
    _, body = await fetch(client, item["logo"])
    assert body == data


# ---------------------------------------------------------------- refusals


def truncated_png() -> bytes:
    data = encode(picture(), "PNG")
    return data[: len(data) // 2]


def png_header_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims a huge image: a decompression bomb's signature."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload)
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * (width * 3 + 1) * 16)  # only a few rows of it
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


TYPE_REFUSED = texts.UPLOAD_TYPE.en
BOMB = "image must be at most 40 megapixels"
REFUSALS = {
    "text named .png": (b"just some words, not an image\n", "note.png", TYPE_REFUSED),
    "html": (b"<!doctype html><script>alert(1)</script>", "page.png", TYPE_REFUSED),
    "svg": (
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "image.svg",
        TYPE_REFUSED,
    ),
    "empty": (b"", "empty.jpg", texts.UPLOAD_EMPTY.en),
    "truncated png": (truncated_png(), "cut.png", texts.UPLOAD_DAMAGED.en),
    "bomb 8000x6000": (png_header_claiming(8000, 6000), "bomb.png", BOMB),
    "bomb 100000x100000": (png_header_claiming(100000, 100000), "bomb.png", BOMB),
    "pdf signature late": (b" %PDF-1.4\n", "x.pdf", TYPE_REFUSED),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(REFUSALS))
async def test_each_refusal_stores_nothing(client, db, case):
    data, file_name, msg = REFUSALS[case]
    token, _ = await register(client)
    await uploaded(client, token, PDF)
    before = await stored(db)
    assert_fail(await upload(client, token, data, file_name), msg=msg)
    assert await stored(db) == before


async def test_no_file_part_and_not_multipart_are_refused(client, db):
    token, _ = await register(client)
    assert_fail(await upload(client, token, None), msg=texts.UPLOAD_NO_FILE.en)
    assert_fail(await upload(client, token, PDF, field="attachment"), msg=texts.UPLOAD_NO_FILE.en)
    body = await call(client, "POST", UPLOAD, token=token, json={"file": "x"})
    assert_fail(body, msg=texts.UPLOAD_NOT_MULTIPART.en)
    malformed = {"Content-Type": "multipart/form-data; boundary=b"}  # a part with no headers
    body = await call(
        client, "POST", UPLOAD, token=token, data=b"--b\r\nTrue--b--\r\n", headers=malformed
    )
    assert_fail(body, msg=texts.UPLOAD_NOT_MULTIPART.en)
    assert await stored(db) == []


async def test_an_upload_needs_a_session(client, db):
    body = await call(client, "POST", UPLOAD, data=form(PDF))
    assert_fail(body, code=1001)
    assert await stored(db) == []


@pytest.fixture
def config(db, clock) -> Config:
    return Config(db=db, session_ttl=3600, clock=clock, max_upload_mb=1, upload_quota_mb=2)


async def test_the_size_limit_is_the_upload_option_not_the_apps(client, db):
    token, _ = await register(client)
    limit = 2**20
    fits = PDF + b"x" * (limit - len(PDF))
    assert (await uploaded(client, token, fits))["file_size"] == limit  # above the app's 1 MiB body
    before = await stored(db)
    too_large = texts.UPLOAD_TOO_LARGE.en.format(limit=1)
    assert_fail(await upload(client, token, fits + b"x"), msg=too_large)

    async def streamed():  # no Content-Length: refused while reading
        yield b"%PDF-"
        for _ in range(40):
            yield b"y" * 65536

    chunked = aiohttp.FormData()
    chunked.add_field("file", streamed(), filename="stream.pdf")
    assert_fail(await call(client, "POST", UPLOAD, token=token, data=chunked), msg=too_large)
    assert await stored(db) == before


async def test_the_quota_is_per_user_and_race_free(client, db):
    alice, _ = await register(client, "alice")
    bob, _ = await register(client, "bob")
    part = PDF + b"z" * (900 * 1024)  # three of them pass the 2 MiB quota
    quota_full = texts.UPLOAD_QUOTA.en.format(limit=2)
    answers = await asyncio.gather(*(upload(client, alice, part) for _ in range(3)))
    assert sorted(a["code"] for a in answers) == [-1, 0, 0]
    assert_fail(next(a for a in answers if a["code"]), msg=quota_full)
    before = await stored(db)
    assert_fail(await upload(client, alice, part), msg=quota_full)
    assert await stored(db) == before
    await uploaded(client, bob, part)  # another user's quota is their own


# ---------------------------------------------------------------- serving


async def test_served_headers_and_conditional_get(client):
    token, _ = await register(client)
    item = await uploaded(client, token, jpeg_with_metadata())
    for path in (item["logo"], item["thumb"]):
        response, _ = await fetch(client, path)
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in headers["Content-Security-Policy"]
        assert headers["Cache-Control"] == IMMUTABLE
        etag = headers["ETag"]
        assert etag.startswith('"') and etag.endswith('"')
        again, body = await fetch(client, path, **{"If-None-Match": etag})
        assert again.status == 304 and body == b""
        assert again.headers["ETag"] == etag
        other, _ = await fetch(client, path, **{"If-None-Match": '"something-else"'})
        assert other.status == 200
    file_etag = (await fetch(client, item["logo"]))[0].headers["ETag"]
    thumb_etag = (await fetch(client, item["thumb"]))[0].headers["ETag"]
    assert file_etag != thumb_etag


UNKNOWN_PATHS = [
    "/uploads/AAAAAAAAAAAAAAAAAAAAAAAA.png",
    "/uploads/thumb/AAAAAAAAAAAAAAAAAAAAAAAA.png",
    "/uploads/nothing",
    "/uploads/",
    "/uploads/thumb/",
    "/uploads/../schema.sql",
    "/uploads/..%2fschema.sql",
    "/uploads/%2e%2e/schema.sql",
    "/uploads/%2e%2e%2fschema.sql",
    "/uploads/thumb/..%2F..%2Fschema.sql",
    "/uploads/thumb/%2e%2e%2f%2e%2e%2frun.py",
    "/uploads/..%5cschema.sql",
    "/uploads/%00.png",
    "/uploads/thumb/../../run.py",
]


async def test_unknown_names_and_traversal_are_plain_404s(client):
    token, _ = await register(client)
    item = await uploaded(client, token, jpeg_with_metadata())
    name = item["logo"].removeprefix("/uploads/")
    for path in [
        *UNKNOWN_PATHS,
        f"/uploads/{name}x",
        f"/uploads/{name.upper()}",
        f"/uploads/thumb/thumb/{name}",
    ]:
        response, body = await fetch(client, path)
        assert response.status == 404, path
        assert not body.startswith(b"{"), path  # outside /api/: no envelope
        assert b"%PDF" not in body and b"CREATE TABLE" not in body


# ---------------------------------------------------------------- use in orders and messages


async def test_thumb_of_orders_and_upload_paths_in_images_and_messages(client):
    token, _ = await register(client)
    admin = await make_admin(client)
    photo = await uploaded(client, token, jpeg_with_metadata())
    pdf = await uploaded(client, token, PDF, "brief.pdf")

    order = await make_order(client, token, images=[photo["logo"], "https://example.com/b.png"])
    assert order["thumb"] == photo["thumb"]
    listed = assert_ok(await call(client, "GET", "/api/communication/orders", token=token))
    assert listed[0]["thumb"] == photo["thumb"]
    assert (await detail(client, token, order["id"]))["thumb"] == photo["thumb"]
    assert (await admin_detail(client, admin, order["id"]))["thumb"] == photo["thumb"]
    merchant_list = assert_ok(
        await call(client, "GET", "/api/admin/communication/orders", token=admin)
    )
    assert merchant_list[0]["thumb"] == photo["thumb"]

    assert (await make_order(client, token, images=["https://example.com/a.jpg"]))["thumb"] == (
        "https://example.com/a.jpg"
    )
    assert (await make_order(client, token))["thumb"] == ""
    assert (await make_order(client, token, images=[pdf["logo"]]))["thumb"] == ""

    sketch = await uploaded(client, admin, png_with_metadata(), "sketch.png")
    body = await call(
        client,
        "POST",
        "/api/admin/communication/order/images",
        token=admin,
        json={
            "id": order["id"],
            "sketch_images": [sketch["logo"]],
            "finished_images": [sketch["thumb"]],
        },
    )
    assert assert_ok(body)["sketch_images"] == [sketch["logo"]]
    for kind, content in (("image", photo["logo"]), ("file", pdf["logo"])):
        body = await call(
            client,
            "POST",
            "/api/communication/message/send",
            token=token,
            json={"comm_order_id": order["id"], "message_type": kind, "content": content},
        )
        assert assert_ok(body)["content"] == content


# ---------------------------------------------------------------- durability and maintenance


def _multipart(data: bytes, file_name: str) -> tuple[bytes, str]:
    boundary = "orderdesk-test-boundary"
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def live_upload(server: LiveServer, token: str, data: bytes, file_name: str) -> dict:
    import http.client
    import json

    body, content_type = _multipart(data, file_name)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(
            "POST", UPLOAD, body=body, headers={"Token": token, "Content-Type": content_type}
        )
        answer = json.loads(connection.getresponse().read())
    finally:
        connection.close()
    assert answer["code"] == 0, answer
    return answer["data"]


def live_get(server: LiveServer, path: str) -> tuple[int, bytes]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.slow  # a real server process
def test_a_restart_keeps_the_files_and_backup_and_check_hold_them(tmp_path):
    db, copy = tmp_path / "live.db", tmp_path / "copy.db"
    photo = jpeg_with_metadata()
    with LiveServer(db) as server:
        token = server.register("alice")
        item = live_upload(server, token, photo, "photo.jpg")
        status, before = live_get(server, item["logo"])
        assert status == 200
        server.stop()
    with LiveServer(db) as server:
        assert live_get(server, item["logo"]) == (200, before)
        assert live_get(server, item["thumb"])[0] == 200
        assert run_cli("backup", "--db", str(db), "--to", str(copy)).returncode == 0
        server.assert_no_faults()
    with LiveServer(copy) as server:  # the backup serves the same file
        assert live_get(server, item["logo"]) == (200, before)
        server.stop()
    assert run_cli("check", "--db", str(copy)).stdout.strip() == "ok"


@pytest.mark.slow  # a real server process
def test_a_restart_keeps_the_files_on_postgresql(tmp_path):
    with postgres_database_for_live_server() as url:
        with LiveServer(url, log=tmp_path / "first.log") as server:
            token = server.register("alice")
            item = live_upload(server, token, jpeg_with_metadata(), "photo.jpg")
            status, before = live_get(server, item["logo"])
            assert status == 200
            server.stop()
        with LiveServer(url, log=tmp_path / "second.log") as server:
            assert live_get(server, item["logo"]) == (200, before)
            assert live_get(server, item["thumb"])[0] == 200
            server.assert_no_faults()
            server.stop()


@pytest.mark.slow  # a real server process
def test_check_finds_a_corrupted_attachment(tmp_path):
    import sqlite3

    db = tmp_path / "live.db"
    with LiveServer(db) as server:
        token = server.register("alice")
        item = live_upload(server, token, PDF, "brief.pdf")
        server.stop()
    assert run_cli("check", "--db", str(db)).returncode == 0
    with sqlite3.connect(db) as conn:  # one byte changed, the length kept
        (data,) = conn.execute(
            "SELECT data FROM attachments WHERE id = ?", (item["id"],)
        ).fetchone()
        changed = data[:-2] + bytes([data[-2] ^ 1]) + data[-1:]
        conn.execute("UPDATE attachments SET data = ? WHERE id = ?", (changed, item["id"]))
    result = run_cli("check", "--db", str(db))
    assert result.returncode == 1
    assert f"attachment {item['id']}" in result.stdout and "md5" in result.stdout


@pytest.mark.slow  # a real server process
def test_a_client_leaving_during_a_download_is_no_fault(tmp_path):
    import socket

    with LiveServer(tmp_path / "live.db") as server:
        token = server.register("alice")
        item = live_upload(server, token, PDF + b"x" * (4 * 2**20), "big.pdf")
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", server.port)) as sock:
                sock.sendall(f"GET {item['logo']} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                assert sock.recv(1000).startswith(b"HTTP/1.1 200")
        assert live_get(server, item["logo"])[0] == 200  # still serving
        server.assert_no_faults()


async def test_the_client_file_name_is_kept_short_and_plain(client):
    token, _ = await register(client)
    long_name = "x" * 300 + ".pdf"
    assert (await uploaded(client, token, PDF, long_name))["file_name"] == "x" * 255
    assert (await uploaded(client, token, PDF, "../../etc/passwd"))["file_name"] == "passwd"
    assert (await uploaded(client, token, PDF, "a\tb.pdf"))["file_name"] == "ab.pdf"


async def test_a_nested_multipart_part_is_a_refusal(client, db):
    token, _ = await register(client)
    nested = (
        b'--b\r\nContent-Disposition: form-data; name="file"\r\n'
        b"Content-Type: multipart/mixed; boundary=c\r\n\r\n"
        b"--c\r\nContent-Type: text/plain\r\n\r\nx\r\n--c--\r\n--b--\r\n"
    )
    headers = {"Content-Type": "multipart/form-data; boundary=b"}
    body = await call(client, "POST", UPLOAD, token=token, data=nested, headers=headers)
    assert_fail(body, msg=texts.UPLOAD_NOT_MULTIPART.en)
    assert await stored(db) == []


async def test_a_file_name_that_is_not_utf8_loses_the_bad_bytes(client):
    token, _ = await register(client)
    raw = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a\xffb.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n" + PDF + b"\r\n--b--\r\n"
    )
    headers = {"Content-Type": "multipart/form-data; boundary=b"}
    body = await call(client, "POST", UPLOAD, token=token, data=raw, headers=headers)
    assert assert_ok(body)["file_name"] == "ab.pdf"
