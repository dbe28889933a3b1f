"""Uploads: what a request names an upload by (the multipart body itself is read and
checked by its handler, as it streams)."""

from .declare import Form
from .values import BODY_ID

ATTACHMENT_ID = Form((BODY_ID,), lambda id: id)
