"""An order's statuses and the moves between them, declared once.

The store applies a move (is the order in one of its `sources`? then the new status,
the note in the thread, the mail), the request forms take the merchant's settable
statuses from it, the OpenAPI document describes each action from it, and the console
receives it (`/static/vocabulary.js`) to know which actions to offer. Adding a status
means a line in STATUSES, the moves that reach and leave it, and a migration pair
widening the `comm_orders.status` CHECK and giving it its rows in `order_counts`.
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


class PurchaseStatus(IntEnum):
    """A purchase order's statuses, numbered as AnqiCMS's shop orders are."""

    CLOSED = -1
    AWAITING_PAYMENT = 0
    PAID = 1
    DELIVERED = 2
    COMPLETED = 3
    REFUND_REQUESTED = 8
    REFUNDED = 9


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


def described(statuses: frozenset[Status] | frozenset[PurchaseStatus]) -> str:
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


# ---------------------------------------------------------------- purchase orders


_P = PurchaseStatus
PURCHASE_STATUSES = {
    _P.AWAITING_PAYMENT: StatusInfo("awaiting payment", Text("Awaiting payment", "待付款")),
    _P.PAID: StatusInfo("paid", Text("Paid", "已付款")),
    _P.DELIVERED: StatusInfo("delivered", Text("Delivered", "已发货")),
    _P.COMPLETED: StatusInfo("completed", Text("Completed", "已完成"), final=True),
    _P.REFUND_REQUESTED: StatusInfo("refund requested", Text("Refund requested", "退款中")),
    _P.REFUNDED: StatusInfo("refunded", Text("Refunded", "已退款"), final=True),
    _P.CLOSED: StatusInfo("closed", Text("Closed", "已关闭"), final=True),
}  # fmt: skip


# AnqiCMS's names of the statuses in its lists' `status` filter (its clients send these).
PURCHASE_STATUS_WORDS = {
    "waiting": _P.AWAITING_PAYMENT,
    "paid": _P.PAID,
    "delivery": _P.DELIVERED,
    "finished": _P.COMPLETED,
    "refunding": _P.REFUND_REQUESTED,
    "refunded": _P.REFUNDED,
    "closed": _P.CLOSED,
}


@dataclass(frozen=True)
class PurchaseMove:
    """One action on a purchase order: allowed from `sources` (else refused with
    `refusal`), leading to `target` (None: the status stays, or when `back` goes back
    to the status the refund was asked in). `note` is the system message it writes in the
    thread ({order_id} the purchase order's, {detail} what the caller added); `mail`
    what the customer is mailed; `done` the answer's msg."""

    action: str
    actor: Actor
    sources: frozenset[PurchaseStatus]
    target: PurchaseStatus | None
    refusal: Text
    note: str
    done: Text
    mail: str | None = None
    back: bool = False


PURCHASE_MOVES = {
    move.action: move
    for move in (
        # The customer's.
        PurchaseMove("payment", CUSTOMER, frozenset({_P.AWAITING_PAYMENT}), None,
                     texts.ONLY_UNPAID_PAYABLE, "purchase order {order_id}: the customer chose "
                     "to pay {detail}", texts.PAYMENT_CHOSEN),
        PurchaseMove("cancel", CUSTOMER, frozenset({_P.AWAITING_PAYMENT}), _P.CLOSED,
                     texts.ONLY_UNPAID_CANCEL, "purchase order {order_id} cancelled by the "
                     "customer", texts.ORDER_CANCELLED),
        PurchaseMove("finish", CUSTOMER, frozenset({_P.DELIVERED}), _P.COMPLETED,
                     texts.ONLY_DELIVERED_FINISH, "purchase order {order_id} completed: the "
                     "customer confirmed receipt", texts.PURCHASE_FINISHED),
        PurchaseMove("refund", CUSTOMER, frozenset({_P.PAID, _P.DELIVERED}), _P.REFUND_REQUESTED,
                     texts.ONLY_PAID_REFUND, "purchase order {order_id}: refund requested; "
                     "reason: {detail}", texts.REFUND_REQUESTED),
        # The merchant's.
        PurchaseMove("paid", MERCHANT, frozenset({_P.AWAITING_PAYMENT}), _P.PAID,
                     texts.ONLY_UNPAID_MARKED_PAID, "purchase order {order_id} paid: {detail}",
                     texts.MARKED_PAID, model.PAID),
        PurchaseMove("deliver", MERCHANT, frozenset({_P.PAID}), _P.DELIVERED,
                     texts.ONLY_PAID_DELIVER, "purchase order {order_id} delivered{detail}",
                     texts.MARKED_DELIVERED, model.DELIVERED),
        PurchaseMove("approve refund", MERCHANT, frozenset({_P.REFUND_REQUESTED}), _P.REFUNDED,
                     texts.NO_REFUND_REQUESTED, "purchase order {order_id} refunded",
                     texts.REFUND_APPROVED, model.REFUNDED),
        PurchaseMove("refuse refund", MERCHANT, frozenset({_P.REFUND_REQUESTED}), None,
                     texts.NO_REFUND_REQUESTED, "purchase order {order_id}: refund refused, "
                     "back to {detail}", texts.REFUND_REFUSED, back=True),
        PurchaseMove("close", MERCHANT, frozenset({_P.AWAITING_PAYMENT}), _P.CLOSED,
                     texts.ONLY_UNPAID_CLOSE, "purchase order {order_id} closed by the "
                     "merchant{detail}", texts.PURCHASE_CLOSED),
    )
}  # fmt: skip
