"""Webhook signature checks over the raw body, in constant time."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_hmac_sha256(secret: str, body: bytes, header_value: str | None) -> bool:
    """Accept `sha256=<hex>` or bare hex."""
    if not secret or not header_value:
        return False
    given = header_value.strip()
    if given.lower().startswith("sha256="):
        given = given[len("sha256=") :]
    expected = hmac_sha256_hex(secret, body)
    return hmac.compare_digest(expected.encode(), given.lower().encode())


def load_ed25519_public_key(key: str) -> Ed25519PublicKey:
    """A PEM public key, or the raw 32-byte key in base64. Raises ValueError if unusable."""
    key = key.strip()
    if key.startswith("-----BEGIN"):
        loaded = load_pem_public_key(key.encode())
        if not isinstance(loaded, Ed25519PublicKey):
            raise ValueError("The configured key is not an Ed25519 public key.")
        return loaded
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(key, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("The configured key is neither PEM nor a base64 Ed25519 key.") from exc


def verify_ed25519(public_key: str, body: bytes, signature_b64: str | None) -> bool:
    if not public_key or not signature_b64:
        return False
    try:
        key = load_ed25519_public_key(public_key)
        signature = base64.b64decode(signature_b64.strip(), validate=True)
        key.verify(signature, body)
    except (ValueError, binascii.Error, InvalidSignature):
        return False
    return True
