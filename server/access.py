"""Who may call a route. The route table names one level per route."""

from enum import IntEnum


class Access(IntEnum):
    PUBLIC = 0
    CUSTOMER = 1  # any logged-in user; orders scoped to the caller
    STAFF = 2  # a user with role "staff" or "admin": the merchant's view of every order
    ADMIN = 3  # a user with role "admin": also the merchant's settings and user changes

    @property
    def merchant(self) -> bool:
        """Whether the route is the merchant's side (every order, writing as "admin")."""
        return self >= Access.STAFF


# The roles each level admits, beyond any logged-in user.
ROLES_ADMITTED = {Access.STAFF: frozenset({"staff", "admin"}), Access.ADMIN: frozenset({"admin"})}
