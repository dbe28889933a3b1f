"""An order's statuses and the moves between them, declared once.

The store applies a move (is the order in one of its `sources`? then the new status,
the note in the thread, the mail), the request forms take the merchant's settable
statuses from it, the OpenAPI document describes each action from it, and the console
receives it (`/static/vocabulary.js`) to know which actions to offer. Adding a status
means a line in STATUSES, the moves that reach and leave it, and a migration pair
widening the `comm_orders.status` CHECK.
"""

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from . import model, texts
from .texts import Text


class Status(IntEnum):
    CANCELLED = -1
    PENDING = 0
    IN_COMMUNICATION = 1
    QUOTED = 2
    ACCEPTED = 3
    REJECTED = 4


@dataclass(frozen=True)
class StatusInfo:
    name: str  # as the thread's notes name it
    label: Text  # as the console shows it
    final: bool = False  # the order's fields and status no longer change


STATUSES = {
    Status.PENDING: StatusInfo("pending", Text("Pending", "待处理")),
    Status.IN_COMMUNICATION: StatusInfo("in communication", Text("In communication", "沟通中")),
    Status.QUOTED: StatusInfo("quoted", Text("Quoted", "已报价")),
    Status.ACCEPTED: StatusInfo("accepted", Text("Accepted", "已接受"), final=True),
    Status.REJECTED: StatusInfo("rejected", Text("Rejected", "已拒绝")),
    Status.CANCELLED: StatusInfo("cancelled", Text("Cancelled", "已取消"), final=True),
}
OPEN = frozenset(status for status, info in STATUSES.items() if not info.final)
NOT_CANCELLED = frozenset(STATUSES) - {Status.CANCELLED}


def described(statuses: frozenset[Status]) -> str:
    """'0, 1, 2 or 4': statuses as the docs list them."""
    numbers = [str(int(s)) for s in sorted(statuses, key=lambda s: (s < 0, s))]
    return numbers[0] if len(numbers) == 1 else f"{', '.join(numbers[:-1])} or {numbers[-1]}"


class Actor(StrEnum):
    CUSTOMER = "customer"
    MERCHANT = "merchant"


@dataclass(frozen=True)
class Move:
    """One action on an order: allowed from `sources` (else refused with `refusal`),
    leading to `target` (None: the status stays). `note` is the system message it
    writes ("" when the action writes its own message, as a quote does), followed by
    `detail_label` and the caller's text when one is sent; `mail` is what is mailed."""

    action: str
    actor: Actor
    sources: frozenset[Status]
    target: Status | None
    refusal: Text
    note: str = ""
    detail_label: str = ""
    mail: str | None = None

    def note_with(self, detail: str) -> str:
        return f"{self.note}; {self.detail_label}: {detail}" if detail else self.note


CUSTOMER, MERCHANT = Actor.CUSTOMER, Actor.MERCHANT
MOVES = {
    move.action: move
    for move in (
        # The customer's.
        Move("update", CUSTOMER, OPEN, None, texts.ORDER_FINAL, "order updated"),
        # Editing the requirements (title, content, order_extra) of a quoted order: the
        # quote was made for other ones, so it can no longer be accepted.
        Move("revise", CUSTOMER, frozenset({Status.QUOTED}), Status.IN_COMMUNICATION,
             texts.ORDER_FINAL, "order updated"),
        Move("accept", CUSTOMER, frozenset({Status.QUOTED}), Status.ACCEPTED,
             texts.ONLY_QUOTED_ACCEPT, "quote accepted", "remark", model.ACCEPTED),
        Move("reject", CUSTOMER, frozenset({Status.QUOTED}), Status.REJECTED,
             texts.ONLY_QUOTED_REJECT, "quote rejected", "reason", model.REJECTED),
        Move("cancel", CUSTOMER, OPEN, Status.CANCELLED, texts.CANNOT_CANCEL,
             "order cancelled", "reason", model.CANCELLED),
        # Either side's message; the merchant's first one opens the conversation.
        Move("message", CUSTOMER, NOT_CANCELLED, None, texts.MESSAGES_CLOSED),
        Move("reply", MERCHANT, NOT_CANCELLED, None, texts.MESSAGES_CLOSED),
        Move("first reply", MERCHANT, frozenset({Status.PENDING}), Status.IN_COMMUNICATION,
             texts.MESSAGES_CLOSED),
        # The merchant's.
        Move("quote", MERCHANT, OPEN, Status.QUOTED, texts.CANNOT_QUOTE),
        Move("talk", MERCHANT, OPEN, Status.IN_COMMUNICATION, texts.ORDER_FINAL,
             "status changed", mail=model.STATUS_CHANGED),
        Move("close", MERCHANT, OPEN, Status.CANCELLED, texts.ORDER_FINAL,
             "status changed", mail=model.STATUS_CHANGED),
        Move("images", MERCHANT, NOT_CANCELLED, None, texts.ORDER_FINAL, "images updated"),
    )
}  # fmt: skip
# POST /api/admin/communication/order/status sets one of these statuses.
STATUS_ENDPOINT_MOVES = {
    move.target: move for move in (MOVES["talk"], MOVES["close"]) if move.target is not None
}
