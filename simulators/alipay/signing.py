"""Alipay's RSA2 scheme: SHA256withRSA over the sorted ``key=value`` pairs, base64.

The simulator signs its notifications, returns and API answers with Alipay's key and checks
the merchant's requests with the app's public key, independently of the SDK the shop uses.
"""

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

#: Parameters the signature of a notification or a return does not cover.
UNSIGNED = ("sign", "sign_type")
#: A merchant's request signature covers ``sign_type`` too.
REQUEST_UNSIGNED = ("sign",)


def content_to_sign(params: dict[str, str], unsigned=UNSIGNED) -> str:
    """Return the text Alipay signs: the parameters but ``unsigned``, sorted, joined."""
    return "&".join(f"{key}={params[key]}" for key in sorted(params) if key not in unsigned)


def sign_text(private_key: rsa.RSAPrivateKey, text: str) -> str:
    """Return the RSA2 signature of ``text`` as base64."""
    signature = private_key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def verify_text(public_key: rsa.RSAPublicKey, text: str, signature: str) -> bool:
    """Tell whether ``signature`` (base64) is the RSA2 signature of ``text``."""
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, text.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True


def signed_params(private_key: rsa.RSAPrivateKey, params: dict[str, str]) -> dict[str, str]:
    """Return ``params`` with ``sign_type`` RSA2 and their ``sign``."""
    signed = {key: str(value) for key, value in params.items()}
    signed["sign"] = sign_text(private_key, content_to_sign(signed))
    signed["sign_type"] = "RSA2"
    return signed


def public_pem(private_key: rsa.RSAPrivateKey) -> str:
    """Return the public half of a key as PEM text."""
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def private_pem(private_key: rsa.RSAPrivateKey) -> str:
    """Return a private key as PKCS#8 PEM text (the simulator's demo merchant key only)."""
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
