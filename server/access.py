"""Who may call a route. The route table names one level per route."""

from enum import IntEnum


class Access(IntEnum):
    PUBLIC = 0
    CUSTOMER = 1  # any logged-in user; orders scoped to the caller
    ADMIN = 2  # a user with role "admin"; every order
