"""Attachments: uploaded files with their thumbnails, bytes in the database."""

from collections.abc import Mapping
from typing import Any

from .. import model, texts
from ..errors import Invalid
from ..model import NewAttachment
from .tx import Tx
from .types import Row

_ANSWER_COLUMNS = """id, name, file_name, content_type, file_size, file_md5, width, height,
    thumb IS NOT NULL AS has_thumb, created_time"""


def attachment_row(row: Mapping[str, Any]) -> Row:
    """AnqiCMS's attachment shape."""
    name = row["name"]
    return {
        "id": row["id"],
        "file_name": row["file_name"],
        "file_location": model.UPLOADS_PREFIX.lstrip("/") + name,
        "file_size": row["file_size"],
        "file_md5": row["file_md5"],
        "width": row["width"],
        "height": row["height"],
        "is_image": int(row["content_type"].startswith("image/")),
        "logo": model.UPLOADS_PREFIX + name,
        "thumb": model.THUMBS_PREFIX + name if row["has_thumb"] else "",
        "created_time": row["created_time"],
        "updated_time": row["created_time"],  # an attachment never changes
    }


async def save_attachment(tx: Tx, owner_id: int, new: NewAttachment, quota_bytes: int) -> Row:
    """Insert unless it would take the owner's uploads past `quota_bytes`: files and
    thumbnails count. The quota is read under a per-user lock (SQLite: the write
    transaction itself), so two uploads at once cannot both fit in the same room."""
    await tx.lock(f"uploads:{owner_id}")
    used = await tx.value(
        """SELECT coalesce(sum(file_size + coalesce(length(thumb), 0)), 0)
           FROM attachments WHERE user_id = ?""",
        owner_id,
    )
    if used + len(new.data) + len(new.thumb or b"") > quota_bytes:
        raise Invalid(texts.UPLOAD_QUOTA, limit=quota_bytes // 2**20)
    row = await tx.row(
        f"""INSERT INTO attachments (user_id, name, file_name, content_type, file_size,
                                     file_md5, width, height, data, thumb, created_time)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_ANSWER_COLUMNS}""",
        owner_id,
        new.name,
        new.file_name,
        new.content_type,
        len(new.data),
        new.md5,
        new.width,
        new.height,
        new.data,
        new.thumb,
        tx.now,
    )
    return attachment_row(row)


async def delete_attachment(tx: Tx, owner_id: int, attachment_id: int) -> None:
    """The owner's attachment, file and thumbnail; Invalid when it is not theirs or
    does not exist (one answer: nobody learns which ids exist). Orders and messages
    that name its path keep their text."""
    deleted = await tx.run(
        "DELETE FROM attachments WHERE id = ? AND user_id = ?", attachment_id, owner_id
    )
    if not deleted:
        raise Invalid(texts.ATTACHMENT_NOT_FOUND)


async def stored_file(tx: Tx, name: str, thumb: bool) -> Row | None:
    """What serving `name` (or its thumbnail) needs, without its bytes: id, name,
    column, content_type, size, md5 (the file's; a thumbnail is made from it)."""
    column = "thumb" if thumb else "data"
    row = await tx.one(
        f"""SELECT id, content_type, length({column}) AS size, file_md5
            FROM attachments WHERE name = ? AND {column} IS NOT NULL""",
        name,
    )
    if row is None:
        return None
    return {
        "id": row["id"],
        "name": name,
        "column": column,
        "content_type": row["content_type"],
        "size": row["size"],
        "md5": row["file_md5"],
    }


async def read_slice(tx: Tx, stored: Row, offset: int, length: int) -> bytes | None:
    """Up to `length` bytes from `offset` of a file found by stored_file; None when it
    has been deleted since (its id alone could name a newer upload: SQLite may reuse
    the highest one)."""
    if (
        await tx.value(
            "SELECT 1 FROM attachments WHERE id = ? AND name = ?", stored["id"], stored["name"]
        )
        is None
    ):
        return None
    return await tx.read_slice("attachments", stored["column"], stored["id"], offset, length)
