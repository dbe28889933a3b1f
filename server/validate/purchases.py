"""Purchase orders (§12): the customer's payment, cancel, finish and refund; the
merchant's paid, deliver, refund decision and close; the lists' queries.

A purchase order is named by its string `order_id`, as AnqiCMS's shop orders are."""

from dataclasses import dataclass

from .. import model
from ..model import Page
from ..workflow import PURCHASE_STATUS_WORDS, PURCHASE_STATUSES
from .declare import Field, Flag, Form, Str
from .values import NOTE, Id, PagedForm, StatusFilter

ORDER_ID = Field(
    "order_id",
    Str(1, 64, description="the purchase order's order_id, e.g. 202612021230450001"),
    required=True,
)
# The purchase order named, in a body or a query.
PURCHASE_ORDER_ID = Form((ORDER_ID,), lambda order_id: order_id)


@dataclass(frozen=True)
class Payment:
    order_id: str
    pay_way: str


PAYMENT = Form(
    (
        ORDER_ID,
        Field(
            "pay_way",
            Str(
                0,
                model.NOTE_MAX,
                description=f'"{model.OFFLINE}" is the one built in; any other answers -1',
            ),
            required=True,
        ),
    ),
    Payment,
)


@dataclass(frozen=True)
class RefundRequest:
    order_id: str
    reason: str


REFUND = Form(
    (ORDER_ID, Field("reason", Str(1, model.NOTE_MAX), required=True)),
    RefundRequest,
)


@dataclass(frozen=True)
class PaidMark:
    order_id: str
    pay_way: str
    payment_reference: str


MARK_PAID = Form(
    (
        ORDER_ID,
        Field("pay_way", Str(1, model.PAY_WAY_MAX), default=model.OFFLINE),
        Field(
            "payment_reference",
            Str(
                0,
                model.PAYMENT_REFERENCE_MAX,
                description="the payment provider's reference: the same call again with "
                "the same reference changes nothing",
            ),
            default="",
        ),
    ),
    PaidMark,
)


@dataclass(frozen=True)
class Delivery:
    order_id: str
    express_company: str
    tracking_number: str


DELIVER = Form(
    (
        ORDER_ID,
        Field("express_company", Str(0, model.EXPRESS_COMPANY_MAX), default=""),
        Field("tracking_number", Str(0, model.TRACKING_NUMBER_MAX), default=""),
    ),
    Delivery,
)


@dataclass(frozen=True)
class RefundDecision:
    order_id: str
    approve: bool


DECIDE_REFUND = Form(
    (
        ORDER_ID,
        Field(
            "approve",
            Flag("true: refunded (9); false: back to the status before the request"),
            required=True,
        ),
    ),
    RefundDecision,
)


@dataclass(frozen=True)
class Closing:
    order_id: str
    reason: str


CLOSE = Form((ORDER_ID, Field("reason", NOTE, default="")), Closing)


@dataclass(frozen=True)
class PurchaseListQuery:
    status: int | None
    page: Page
    comm_order_id: int | None = None
    user_id: int | None = None


_STATUS = Field("status", StatusFilter(PURCHASE_STATUSES, PURCHASE_STATUS_WORDS))
_COMM_ORDER = Field(
    "comm_order_id",
    Id(in_query=True, description="only the purchase order of this communication order"),
    empty_is_absent=True,
)
LIST_QUERY = PagedForm((_STATUS, _COMM_ORDER), PurchaseListQuery)
ADMIN_LIST_QUERY = PagedForm(
    (_STATUS, _COMM_ORDER, Field("user_id", Id(in_query=True), empty_is_absent=True)),
    PurchaseListQuery,
)
