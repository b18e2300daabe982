"""Phone numbers: parsed with Google's libphonenumber and kept as E.164 (``+66812345678``)."""

import phonenumbers


class InvalidPhone(ValueError):
    """Not a phone number that can receive a text message."""


def normalise_phone(text: str, region: str | None = None) -> str:
    """Return ``text`` as an E.164 number, or raise InvalidPhone with the reason.

    Without a ``region`` the number must start with ``+`` and its country code.
    """
    cleaned = (text or "").strip()
    if not cleaned:
        raise InvalidPhone("empty")
    if len(cleaned) > 32:
        raise InvalidPhone("too long")
    try:
        number = phonenumbers.parse(cleaned, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(
            "not a phone number with its country code, such as +66 81 234 5678"
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid number for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_phone_number(text: str) -> bool:
    """Return whether ``text`` is a valid phone number in E.164 form."""
    try:
        return normalise_phone(text) == text
    except InvalidPhone:
        return False
