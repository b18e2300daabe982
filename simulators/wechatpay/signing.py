r"""WeChat Pay API v3's signatures and encryption, as the platform makes and checks them.

Answers and notifications are signed over ``timestamp\nnonce\nbody\n`` (SHA256withRSA) with
the platform key; a merchant's request over ``method\npath\ntimestamp\nnonce\nbody\n`` with
the merchant's key; notification resources and platform certificates are encrypted with
AES-256-GCM under the merchant's APIv3 key. Written independently of the SDK the shop uses.
"""

import base64
import binascii
import re
import secrets
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
AUTHORIZATION = re.compile(r'(\w+)="([^"]*)"')


def sign_message(private_key: rsa.RSAPrivateKey, message: str) -> str:
    """Return the base64 SHA256withRSA signature of ``message``."""
    signature = private_key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def verify_message(public_key: rsa.RSAPublicKey, message: str, signature: str) -> bool:
    """Tell whether ``signature`` (base64) signs ``message``."""
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, message.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True


def platform_headers(
    private_key: rsa.RSAPrivateKey, serial: str, body: str, timestamp: int | None = None
) -> dict[str, str]:
    """Return the ``Wechatpay-*`` headers signing ``body`` (an answer or a notification)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = secrets.token_hex(16).upper()
    return {
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": sign_message(private_key, f"{stamp}\n{nonce}\n{body}\n"),
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": SIGNATURE_TYPE,
    }


def merchant_request_valid(
    public_key: rsa.RSAPublicKey,
    mchid: str,
    authorization: str,
    method: str,
    path: str,
    body: str,
) -> bool:
    """Check a merchant's ``Authorization`` header over the request line and body."""
    scheme, _, params = authorization.partition(" ")
    fields = dict(AUTHORIZATION.findall(params))
    if scheme != SIGNATURE_TYPE or fields.get("mchid") != mchid:
        return False
    message = f"{method}\n{path}\n{fields.get('timestamp')}\n{fields.get('nonce_str')}\n{body}\n"
    return verify_message(public_key, message, fields.get("signature", ""))


def encrypt(apiv3_key: str, plaintext: str, associated_data: str) -> dict[str, str]:
    """Encrypt as WeChat does: AEAD_AES_256_GCM, a 12-character nonce, base64 ciphertext."""
    nonce = secrets.token_hex(6)
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(
        nonce.encode(), plaintext.encode(), associated_data.encode()
    )
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "nonce": nonce,
        "associated_data": associated_data,
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }
