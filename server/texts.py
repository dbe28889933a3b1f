"""Every `msg` text the API answers, in English and Simplified Chinese, in one place.

Texts are str.format templates; field names stay as the API spells them. The
language comes from the request's Accept-Language: `zh`, `zh-CN` (any `zh-*`) give
Chinese, anything else English.
"""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Text:
    en: str
    zh: str

    def render(self, language: str, params: dict[str, Any]) -> str:
        return (self.zh if language == "zh" else self.en).format(**params)


def language_of(accept_language: str) -> str:
    """The caller's language from an Accept-Language header: the tag with the highest q."""
    best, best_q = "en", 0.0
    for part in accept_language.split(","):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            continue
        if weight > best_q and tag:
            best, best_q = tag.strip().lower(), weight
    return "zh" if best == "zh" or best.startswith("zh-") else "en"


# ---------------------------------------------------------------- successes

OK = Text("ok", "成功")
PAYMENT_CHOSEN = Text("payment method chosen", "已选择支付方式")
PURCHASE_FINISHED = Text("receipt confirmed", "已确认收货")
REFUND_REQUESTED = Text("refund requested", "已申请退款")
MARKED_PAID = Text("marked paid", "已标记为已付款")
MARKED_DELIVERED = Text("marked delivered", "已标记为已发货")
REFUND_APPROVED = Text("refund approved", "已同意退款")
REFUND_REFUSED = Text("refund refused", "已拒绝退款")
PURCHASE_CLOSED = Text("order closed", "订单已关闭")
REGISTERED = Text("registered", "注册成功")
LOGGED_IN = Text("logged in", "登录成功")
LOGGED_OUT = Text("logged out", "已退出登录")
ORDER_CREATED = Text("order created", "订单创建成功")
ORDER_UPDATED = Text("order updated", "订单更新成功")
QUOTE_ACCEPTED = Text("quote accepted", "已接受报价")
QUOTE_REJECTED = Text("quote rejected", "已拒绝报价")
ORDER_CANCELLED = Text("order cancelled", "订单已取消")
MESSAGE_SENT = Text("message sent", "消息已发送")
QUOTE_SENT = Text("quote sent", "报价已发送")
STATUS_UPDATED = Text("status updated", "状态已更新")
IMAGES_UPDATED = Text("images updated", "图片已更新")
FIELDS_SAVED = Text("fields saved", "字段已保存")

# ---------------------------------------------------------------- sessions and access

NOT_LOGGED_IN = Text("not logged in", "未登录")
PERMISSION_DENIED = Text("permission denied", "没有权限")
WRONG_CREDENTIALS = Text("wrong user name or password", "用户名或密码错误")
TOO_MANY_ATTEMPTS = Text("too many attempts", "尝试次数过多，请稍后再试")
ALREADY_TAKEN = Text("{field} is already taken", "{field} 已被使用")

# ---------------------------------------------------------------- the request itself

NOT_FOUND = Text("not found", "接口不存在")
METHOD_NOT_ALLOWED = Text("method not allowed", "请求方法不允许")
BODY_TOO_LARGE = Text("request body too large", "请求体过大")
BAD_REQUEST = Text("bad request", "请求无效")
INTERNAL_ERROR = Text("internal server error", "服务器内部错误")
# The database cannot be written now (a full disk, a read-only file or database): the
# request changed nothing.
CANNOT_SAVE = Text(
    "the server cannot save changes right now; try again later",
    "服务器暂时无法保存更改，请稍后再试",
)
NOT_JSON_CONTENT_TYPE = Text(
    "request body must be application/json", "请求体必须是 application/json"
)
INVALID_JSON = Text("request body is not valid JSON", "请求体不是有效的 JSON")
NOT_AN_OBJECT = Text("request body must be a JSON object", "请求体必须是 JSON 对象")
JSON_TOO_DEEP = Text(
    "request body may nest arrays and objects at most {depth} levels deep",
    "请求体中数组和对象最多嵌套 {depth} 层",
)

# ---------------------------------------------------------------- fields

REQUIRED = Text("{field} is required", "{field} 为必填项")
POSITIVE_INTEGER = Text("{field} must be a positive integer", "{field} 必须是正整数")
ZERO_OR_POSITIVE_INTEGER = Text(
    "{field} must be 0 or a positive integer", "{field} 必须是 0 或正整数"
)
NOT_A_STRING = Text("{field} must be a string", "{field} 必须是字符串")
EMPTY = Text("{field} must not be empty", "{field} 不能为空")
LENGTH_RANGE = Text(
    "{field} must be {low}-{high} characters", "{field} 长度必须为 {low}-{high} 个字符"
)
LENGTH_MAX = Text("{field} must be at most {high} characters", "{field} 长度不能超过 {high} 个字符")
PHONE_CHARACTERS = Text(
    "{field} may contain only digits, spaces and + - ( )",
    "{field} 只能包含数字、空格和 + - ( )",
)
EMAIL_FORM = Text(
    "email must be one address such as name@example.com",
    "email 必须是单个邮箱地址，例如 name@example.com",
)
NOT_A_STRING_LIST = Text("{field} must be a list of strings", "{field} 必须是字符串列表")
TOO_MANY_ITEMS = Text("{field} may hold at most {count} items", "{field} 最多 {count} 项")
ITEM_LENGTH = Text(
    "each of {field} must be 1-{high} characters", "{field} 的每一项长度必须为 1-{high} 个字符"
)

# Image lists hold only links a browser may safely follow.
IMAGE_URL_FORM = Text(
    "each of {field} must be an http:// or https:// URL with a host, or an /uploads/ path",
    "{field} 的每一项必须是带主机名的 http:// 或 https:// 网址，或 /uploads/ 路径",
)

ONE_OF = Text("{field} must be one of {choices}", "{field} 必须是以下之一：{choices}")
STATUS_ONE_OR_CANCELLED = Text("status must be 1 or -1", "status 必须是 1 或 -1")

# ---------------------------------------------------------------- order_extra

EXTRA_NOT_OBJECT = Text("order_extra must be a JSON object", "order_extra 必须是 JSON 对象")
EXTRA_TOO_MANY_KEYS = Text(
    "order_extra may have at most {count} keys", "order_extra 最多 {count} 个键"
)
EXTRA_KEY_LENGTH = Text(
    "order_extra keys must be {low}-{high} characters",
    "order_extra 的键长度必须为 {low}-{high} 个字符",
)
EXTRA_TOO_DEEP = Text(
    "order_extra may nest at most {depth} levels", "order_extra 最多嵌套 {depth} 层"
)
EXTRA_TOO_BIG = Text(
    "order_extra must be at most {size} bytes as JSON", "order_extra 的 JSON 不能超过 {size} 字节"
)
FIELD_VALUE_STRING = Text("order_extra.{name} must be a string", "order_extra.{name} 必须是字符串")
FIELD_VALUE_NUMBER = Text("order_extra.{name} must be a number", "order_extra.{name} 必须是数字")
FIELD_VALUE_OPTION = Text(
    "order_extra.{name} must be one of the field's options",
    "order_extra.{name} 必须是该字段的选项之一",
)
FIELD_VALUE_OPTION_LIST = Text(
    "order_extra.{name} must be a list of the field's options",
    "order_extra.{name} 必须是该字段选项的列表",
)
FIELD_VALUE_DISTINCT_OPTIONS = Text(
    "order_extra.{name} must be a list of distinct options of the field",
    "order_extra.{name} 必须是该字段中互不相同的选项列表",
)
FIELD_VALUE_DATE = Text(
    "order_extra.{name} must be a date as YYYY-MM-DD",
    "order_extra.{name} 必须是 YYYY-MM-DD 格式的日期",
)
FIELD_VALUE_REQUIRED = Text("order_extra.{name} is required", "order_extra.{name} 为必填项")

# ---------------------------------------------------------------- field definitions

FIELDS_NOT_LIST = Text("fields must be a list of field definitions", "fields 必须是字段定义的列表")
FIELDS_TOO_MANY = Text(
    "fields may hold at most {count} definitions", "fields 最多包含 {count} 个定义"
)
DEFINITION_NOT_OBJECT = Text("{where} must be an object", "{where} 必须是对象")
DEFINITION_DUPLICATE = Text(
    "{where}.field_name {name!r} is used twice", "{where}.field_name {name!r} 重复"
)
DEFINITION_TYPE = Text(
    "{where}.type must be one of {choices}", "{where}.type 必须是以下之一：{choices}"
)
DEFINITION_REQUIRED_FLAG = Text(
    "{where}.required must be true or false", "{where}.required 必须是 true 或 false"
)
DEFINITION_OPTIONS = Text(
    "{where}.options must be a non-empty list of strings for {kind}",
    "{kind} 类型的 {where}.options 必须是非空字符串列表",
)
DEFINITION_OPTION_EMPTY = Text(
    "{where}.options must be non-empty strings", "{where}.options 必须是非空字符串"
)
DEFINITION_OPTIONS_DISTINCT = Text("{where}.options must be distinct", "{where}.options 不能重复")

# ---------------------------------------------------------------- quotes

QUOTE_PRICE_FORMAT = Text(
    "quote_price must be a number greater than 0 with at most 2 decimals",
    "quote_price 必须是大于 0 且最多两位小数的数字",
)
QUOTE_PRICE_RANGE = Text(
    "quote_price must be greater than 0 and at most 999999999.99",
    "quote_price 必须大于 0 且不超过 999999999.99",
)

# ---------------------------------------------------------------- order state

ORDER_NOT_FOUND = Text("order not found", "订单不存在")
# Purchase orders (§12): the moves' refusals.
ONLY_UNPAID_PAYABLE = Text("only an order awaiting payment can be paid", "只有待付款的订单才能付款")
ONLY_UNPAID_CANCEL = Text(
    "only an order awaiting payment can be cancelled", "只有待付款的订单才能取消"
)
ONLY_DELIVERED_FINISH = Text(
    "only a delivered order can be confirmed as received", "只有已发货的订单才能确认收货"
)
ONLY_PAID_REFUND = Text(
    "only a paid or delivered order can be refunded", "只有已付款或已发货的订单才能申请退款"
)
ONLY_UNPAID_MARKED_PAID = Text(
    "only an order awaiting payment can be marked paid", "只有待付款的订单才能标记为已付款"
)
PAID_WITH_ANOTHER_REFERENCE = Text(
    "this order was already paid with another payment reference",
    "该订单已使用其他支付流水号付款",
)
ONLY_PAID_DELIVER = Text("only a paid order can be delivered", "只有已付款的订单才能发货")
NO_REFUND_REQUESTED = Text("no refund was requested for this order", "该订单没有退款申请")
ONLY_UNPAID_CLOSE = Text("only an order awaiting payment can be closed", "只有待付款的订单才能关闭")
PAYMENT_METHOD_NOT_AVAILABLE = Text("payment method not available", "不支持该支付方式")
ORDER_FINAL = Text("order can no longer be modified", "订单已无法修改")
VERSION_CONFLICT = Text(
    "version conflict: the order was changed by someone else", "版本冲突：订单已被他人修改"
)
ONLY_QUOTED_ACCEPT = Text("only a quoted order can be accepted", "只有已报价的订单才能接受报价")
ONLY_QUOTED_REJECT = Text("only a quoted order can be rejected", "只有已报价的订单才能拒绝报价")
CANNOT_CANCEL = Text("this order can no longer be cancelled", "该订单已无法取消")
CANNOT_QUOTE = Text("this order can no longer be quoted", "该订单已无法报价")
MESSAGES_CLOSED = Text("messages are closed on a cancelled order", "已取消的订单不能再发送消息")

# ---------------------------------------------------------------- accounts

PASSWORD_CHANGED = Text("password changed", "密码已修改")
USER_NAME_CHARACTERS = Text(
    "{field} must not contain control, format or line separator characters",
    "{field} 不能包含控制字符、格式字符或行分隔符",
)
USER_NAME_RESERVED = Text(
    '{field} must not be "{name}": the name is reserved', '{field} 不能是 "{name}"：该名称已保留'
)
USER_NAME_SCRIPTS = Text(
    "{field} must not mix writing systems (Latin letters may be mixed only with "
    "Chinese, Japanese or Korean characters)",
    "{field} 不能混用多种文字（拉丁字母只能与中文、日文或韩文字符混用）",
)
NOT_A_BOOLEAN = Text("{field} must be true or false", "{field} 必须是 true 或 false")
WRONG_OLD_PASSWORD = Text("old_password is wrong", "old_password 不正确")

# ---------------------------------------------------------------- hardening

NUL_CHARACTER = Text(
    "{field} must not contain the NUL character (U+0000)", "{field} 不能包含 NUL 字符 (U+0000)"
)
INTEGER_TOO_LARGE = Text(
    "{field} must be an integer of at most 19 digits, no larger than {max}",
    "{field} 必须是不超过 19 位且不大于 {max} 的整数",
)
QUOTE_CHANGED = Text(
    "the quote has changed: check the current price before accepting",
    "报价已变更：请确认当前价格后再接受",
)

# ---------------------------------------------------------------- attachments

UPLOADED = Text("file uploaded", "文件已上传")
UPLOAD_NOT_MULTIPART = Text(
    "the upload must be multipart/form-data with a file part named file",
    "上传必须是 multipart/form-data，并包含名为 file 的文件部分",
)
UPLOAD_NO_FILE = Text(
    "file is required: send one file part named file", "缺少 file：请发送名为 file 的文件部分"
)
UPLOAD_EMPTY = Text("file is empty", "file 是空文件")
UPLOAD_TYPE = Text(
    "file must be a JPEG, PNG, GIF or WebP image or a PDF document",
    "file 必须是 JPEG、PNG、GIF、WebP 图片或 PDF 文档",
)
UPLOAD_DAMAGED = Text("file is a damaged or incomplete image", "file 是损坏或不完整的图片")
UPLOAD_TOO_MANY_PIXELS = Text(
    "image must be at most {limit} megapixels", "图片不能超过 {limit} 百万像素"
)
UPLOAD_TOO_LARGE = Text("file must be at most {limit} MB", "file 不能超过 {limit} MB")
UPLOAD_QUOTA = Text(
    "upload quota of {limit} MB reached: this file does not fit",
    "已达到 {limit} MB 的上传配额：无法存放此文件",
)
UPLOAD_TOO_MANY_PARTS = Text(
    "the upload may hold at most {limit} parts", "上传最多只能包含 {limit} 个部分"
)
UPLOAD_INCOMPLETE = Text(
    "the upload is incomplete: its body ended before the closing boundary",
    "上传不完整：请求体在结束边界之前就已结束",
)
UPLOAD_TOO_MANY_SCANS = Text(
    "file is a JPEG of too many scans: at most {limit}", "file 是扫描数过多的 JPEG：最多 {limit} 个"
)
UPLOAD_TOO_COSTLY = Text(
    "image takes too much work to decode: at most {seconds} s of CPU time and {mb} MiB of memory",
    "图片解码所需资源过多：最多 {seconds} 秒 CPU 时间和 {mb} MiB 内存",
)
ATTACHMENT_DELETED = Text("attachment deleted", "附件已删除")
ATTACHMENT_NOT_FOUND = Text("attachment not found", "附件不存在")

# ---------------------------------------------------------------- notifications

WEBHOOK_CREATED = Text("webhook created", "Webhook 已创建")
WEBHOOK_UPDATED = Text("webhook updated", "Webhook 已更新")
WEBHOOK_DELETED = Text("webhook deleted", "Webhook 已删除")
WEBHOOK_SECRET_ROTATED = Text("webhook secret rotated", "Webhook 密钥已更换")
REDELIVERY_QUEUED = Text("delivery queued again", "投递已重新排队")
NOTIFICATIONS_SAVED = Text("notification settings saved", "通知设置已保存")
WEBHOOK_NOT_FOUND = Text("webhook not found", "Webhook 不存在")
DELIVERY_NOT_FOUND = Text("delivery not found", "投递记录不存在")
WEBHOOK_URL_SCHEME = Text(
    "{field} must be an http:// or https:// URL with a host",
    "{field} 必须是带主机名的 http:// 或 https:// 地址",
)
WEBHOOK_URL_PRIVATE = Text(
    "{field} must not point to a loopback, private, link-local or other non-public address",
    "{field} 不能指向回环、私有、链路本地或其他非公网地址",
)
WEBHOOK_URL_UNRESOLVED = Text("{field}: the host name does not resolve", "{field}：主机名无法解析")
WEBHOOK_EVENTS = Text(
    '{field} must be a non-empty list of event types ({choices}) or ["*"]',
    '{field} 必须是由事件类型（{choices}）组成的非空列表，或 ["*"]',
)

# ---------------------------------------------------------------- recovery and personal data

RESET_REQUESTED = Text(
    "if an account with an email matches, a reset link has been mailed to it",
    "如果有匹配且设置了邮箱的账户，重置链接已发送到该邮箱",
)
PASSWORD_RESET = Text(
    "password reset; log in with the new password", "密码已重置，请使用新密码登录"
)
RESET_LINK_INVALID = Text("this reset link is invalid or has expired", "此重置链接无效或已过期")
RESET_LINK_MADE = Text("reset link made", "重置链接已生成")
ACCOUNT_DISABLED = Text("this account is disabled", "此账户已被停用")
USER_NOT_FOUND = Text("user not found", "用户不存在")
WRONG_PASSWORD = Text("password is wrong", "password 不正确")
LAST_ADMIN = Text("the last admin cannot delete their account", "唯一的管理员不能删除自己的账户")
ACCOUNT_DELETED = Text("account deleted", "账户已删除")

# ---------------------------------------------------------------- the merchant's desk

ORDER_ASSIGNED = Text("order assigned", "订单已分配")
MARKED_READ = Text("marked as read", "已标记为已读")
NOTE_ADDED = Text("note added", "备注已添加")
MESSAGE_NOT_IN_ORDER = Text(
    "message_id is not a message of this order", "message_id 不是此订单的消息"
)
ASSIGNEE_NOT_STAFF = Text(
    "assignee_id must be the id of a staff member or an admin, or 0",
    "assignee_id 必须是员工或管理员的 id，或 0",
)
USER_UPDATED = Text("user updated", "用户已更新")
OWN_ROLE = Text(
    "an admin cannot change their own role or disable themselves",
    "管理员不能更改自己的角色或停用自己",
)
LAST_ENABLED_ADMIN = Text(
    "the last enabled admin cannot be demoted or disabled", "唯一启用的管理员不能被降级或停用"
)
REPLY_SAVED = Text("reply saved", "快捷回复已保存")
REPLY_UPDATED = Text("saved reply updated", "快捷回复已更新")
REPLY_DELETED = Text("saved reply deleted", "快捷回复已删除")
REPLY_NOT_FOUND = Text("saved reply not found", "快捷回复不存在")
REPLIES_FULL = Text(
    "there may be at most {count} saved replies: delete one first",
    "快捷回复最多 {count} 条，请先删除一条",
)

# ---------------------------------------------------------------- API keys

API_KEY_CREATED = Text(
    "API key created: keep the key now, it is not shown again",
    "API 密钥已创建：请立即保存，之后不再显示",
)
API_KEY_DELETED = Text("API key revoked", "API 密钥已撤销")
API_KEY_NOT_FOUND = Text("API key not found", "API 密钥不存在")
NEEDS_LOGIN_SESSION = Text(
    "this needs a login session, not an API key", "此操作需要登录会话，不能使用 API 密钥"
)

ALL = {name: value for name, value in dict(globals()).items() if isinstance(value, Text)}
