"""Password hashing (scrypt with a per-user salt), session tokens and API keys (random,
stored hashed)."""

import base64
import functools
import hashlib
import hmac
import os
import secrets

# scrypt cost of new hashes: N = 2^14, 16 MiB of memory and ~50 ms a hash on a small
# machine. ORDERDESK_SCRYPT_COST (log2 of N, 1-20) lowers it for the test suite only;
# a stored hash carries its own parameters, so it always verifies at the cost it was
# made with.
SCRYPT_COST_DEFAULT = 14
SCRYPT_COST = int(os.environ.get("ORDERDESK_SCRYPT_COST", SCRYPT_COST_DEFAULT))
if not 1 <= SCRYPT_COST <= 20:
    raise ValueError(f"ORDERDESK_SCRYPT_COST must be 1-20, not {SCRYPT_COST}")
_N, _R, _P = 2**SCRYPT_COST, 8, 1
_MAXMEM = 64 * 1024 * 1024


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=_MAXMEM)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of `password` against a hash made by `hash_password`."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_MAXMEM,
            dklen=len(expected),
        )
    except ValueError:
        return False
    return scheme == "scrypt" and hmac.compare_digest(actual, expected)


@functools.cache
def dummy_hash() -> str:
    """Checked against when the user does not exist, so both failures take as long."""
    return hash_password(secrets.token_urlsafe(16))


# What an API key starts with and a session token never does: a credential's first
# characters say which table holds it.
API_KEY_PREFIX = "odk_"


def new_token() -> str:
    """256 random bits, URL-safe, never starting as an API key does."""
    while (token := secrets.token_urlsafe(32)).startswith(API_KEY_PREFIX):
        pass
    return token


def new_api_key() -> str:
    """API_KEY_PREFIX and 256 random bits, URL-safe."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def is_api_key(credential: str) -> bool:
    return credential.startswith(API_KEY_PREFIX)


def token_hash(token: str) -> bytes:
    # A fast hash is enough: the token has 256 bits of entropy, nothing to brute-force.
    # surrogateescape: a header that is not UTF-8 hashes to no session, it never fails.
    return hashlib.sha256(token.encode(errors="surrogateescape")).digest()
