"""Typed settings from the environment, converted as envgate validates them.

Generated from the envgate schema by `envgate codegen python`: do not edit, regenerate.
Standard library only. Importing it reads os.environ once; a missing required
value, or one that does not convert, raises ConfigError naming the variable.
"""

from __future__ import annotations

import datetime
import json
import os
import typing

__all__ = ["ConfigError", "Env", "Secret", "env"]

_TRUE_WORDS = frozenset({"true", "1", "yes", "y", "on"})
_FALSE_WORDS = frozenset({"false", "0", "no", "n", "off"})
_WHITESPACE = "\u0009\u000a\u000b\u000c\u000d\u0020\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_MILLIS_PER_UNIT = {"s": 1000, "m": 60000, "h": 3600000, "d": 86400000, "w": 604800000, "ms": 1}
_U64 = 2**64
_I64 = 2**63


class ConfigError(Exception):
    """A variable is missing, or its value does not convert."""


class Secret(str):
    """A sensitive value: a str whose repr never shows it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('********')"


def _value(source: typing.Mapping[str, str], name: str, default: str | None) -> str | None:
    """The variable's text; empty counts as unset, as for envgate."""
    value = source.get(name)
    if value is None or value == "":
        return default
    return value


def _required(name: str, value: str | None) -> str:
    if value is None:
        raise ConfigError(f"{name} is not set")
    return value


def _ascii_digits(text: str) -> bool:
    return text != "" and text.isascii() and text.isdigit()


def _to_bool(name: str, text: str) -> bool:
    word = "".join(c.lower() if c.isascii() else c for c in text.strip(_WHITESPACE))
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ConfigError(f"{name} is not a boolean: use true/false, 1/0, yes/no or on/off")


def _to_int(name: str, text: str) -> int:
    if not _ascii_digits(text[1:] if text[:1] in ("+", "-") else text):
        raise ConfigError(f"{name} is not an integer")
    value = int(text)
    if not -_I64 <= value < _I64:
        raise ConfigError(f"{name} is out of range for an integer")
    return value


def _to_port(name: str, text: str) -> int:
    digits = text[1:] if text[:1] == "+" else text
    if not _ascii_digits(digits) or not 1 <= int(digits) <= 65535:
        raise ConfigError(f"{name} is not a port (1 to 65535)")
    return int(digits)


def _to_list(name: str, text: str) -> list[str]:
    items = [item.strip(_WHITESPACE) for item in text.split(",")]
    if any(item == "" for item in items):
        raise ConfigError(f"{name} is not a list: an item is empty")
    return items


def _to_json(name: str, text: str) -> typing.Any:
    try:
        return json.loads(text)
    except ValueError:
        raise ConfigError(f"{name} is not valid JSON") from None


def _to_duration(name: str, text: str) -> datetime.timedelta:
    text = text.strip(_WHITESPACE)
    if _ascii_digits(text[1:] if text[:1] == "+" else text):
        seconds = int(text)
        if seconds >= _U64:
            raise ConfigError(f"{name} is too large a duration")
        return _timedelta(name, seconds * 1000)
    if text == "":
        raise ConfigError(f"{name} is not a duration: it is empty")
    total, rest = 0, text
    while rest:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        if digits == 0:
            raise ConfigError(f"{name} is not a duration: a number must come before each unit")
        amount, rest = int(rest[:digits]), rest[digits:]
        unit_length = _unit_length(rest)
        unit, rest = rest[:unit_length], rest[unit_length:]
        if unit not in _MILLIS_PER_UNIT or amount >= _U64:
            raise ConfigError(f"{name} is not a duration: use a unit of ms, s, m, h, d, w after each number")
        part = amount * _MILLIS_PER_UNIT[unit]
        if unit != "ms" and part // 1000 >= _U64:
            raise ConfigError(f"{name} is too large a duration")
        total += part
        if total // 1000 >= _U64:
            raise ConfigError(f"{name} is too large a duration")
    return _timedelta(name, total)


def _unit_length(rest: str) -> int:
    for index, c in enumerate(rest):
        if "0" <= c <= "9":
            return index
    return len(rest)


def _timedelta(name: str, millis: int) -> datetime.timedelta:
    try:
        return datetime.timedelta(milliseconds=millis)
    except OverflowError:
        raise ConfigError(f"{name} is longer than Python's timedelta holds") from None


_ENVIRONMENT = os.environ.get("ENVIRONMENT") or "development"

class Env:
    """Every variable of the schema, typed."""

    __slots__ = ("SECRET_KEY", "SECRET_KEY_FALLBACKS", "DEBUG", "ALLOWED_HOSTS", "DATABASE_HOST", "DATABASE_PORT", "DATABASE_NAME", "DATABASE_USER", "DATABASE_PASSWORD", "RESEND_API_KEY", "CLERK_SECRET_KEY", "ENVIRONMENT", "USE_SECRETS_MANAGER", "AWS_REGION", "SECRETS_CACHE_TTL")

    SECRET_KEY: Secret
    """Signs sessions, CSRF tokens, password-reset tokens and cookies. Unique per environment; never committed."""

    SECRET_KEY_FALLBACKS: list[str] | None
    """Previous SECRET_KEYs, comma-separated, newest first: Django still accepts what they signed, so sessions survive a rotation. Kept by `envgate rotate`."""

    DEBUG: bool
    """Django debug mode. Never true in production: it leaks settings and stack traces."""

    ALLOWED_HOSTS: list[str] | None
    """Host names the site serves, comma-separated (Django's ALLOWED_HOSTS)."""

    DATABASE_HOST: str
    """PostgreSQL server host name or address."""

    DATABASE_PORT: int
    """PostgreSQL server port."""

    DATABASE_NAME: str
    """Database name."""

    DATABASE_USER: str
    """Database role the application logs in as."""

    DATABASE_PASSWORD: Secret
    """Password of DATABASE_USER. Rotated every 90 days."""

    RESEND_API_KEY: Secret | None
    """Resend API key for transactional e-mail."""

    CLERK_SECRET_KEY: Secret | None
    """Clerk secret key for authentication."""

    ENVIRONMENT: str
    """Which environment this is: selects per-environment rules and the secret name prefix."""

    USE_SECRETS_MANAGER: bool
    """Read secrets from AWS Secrets Manager ({environment}/…); when false, from the environment and .env files."""

    AWS_REGION: str | None
    """AWS region of the Secrets Manager secrets."""

    SECRETS_CACHE_TTL: int
    """How long fetched secrets are cached, in seconds."""


    def __init__(self, source: typing.Mapping[str, str] | None = None) -> None:
        source = os.environ if source is None else source
        text: str | None
        text = _value(source, "SECRET_KEY", None)
        text = _required("SECRET_KEY", text)
        self.SECRET_KEY = Secret(text)
        text = _value(source, "SECRET_KEY_FALLBACKS", None)
        if text is None and False:
            raise ConfigError(f"SECRET_KEY_FALLBACKS is not set (required in {_ENVIRONMENT})")
        self.SECRET_KEY_FALLBACKS = None if text is None else _to_list("SECRET_KEY_FALLBACKS", text)
        text = _value(source, "DEBUG", "false")
        text = _required("DEBUG", text)
        self.DEBUG = _to_bool("DEBUG", text)
        text = _value(source, "ALLOWED_HOSTS", None)
        if text is None and {"development": False, "staging": True, "production": True}.get(_ENVIRONMENT, False):
            raise ConfigError(f"ALLOWED_HOSTS is not set (required in {_ENVIRONMENT})")
        self.ALLOWED_HOSTS = None if text is None else _to_list("ALLOWED_HOSTS", text)
        text = _value(source, "DATABASE_HOST", "localhost")
        text = _required("DATABASE_HOST", text)
        self.DATABASE_HOST = text
        text = _value(source, "DATABASE_PORT", "5432")
        text = _required("DATABASE_PORT", text)
        self.DATABASE_PORT = _to_port("DATABASE_PORT", text)
        text = _value(source, "DATABASE_NAME", "muejam")
        text = _required("DATABASE_NAME", text)
        self.DATABASE_NAME = text
        text = _value(source, "DATABASE_USER", None)
        text = _required("DATABASE_USER", text)
        self.DATABASE_USER = text
        text = _value(source, "DATABASE_PASSWORD", None)
        text = _required("DATABASE_PASSWORD", text)
        self.DATABASE_PASSWORD = Secret(text)
        text = _value(source, "RESEND_API_KEY", None)
        if text is None and {"development": False, "staging": True, "production": True}.get(_ENVIRONMENT, False):
            raise ConfigError(f"RESEND_API_KEY is not set (required in {_ENVIRONMENT})")
        self.RESEND_API_KEY = None if text is None else Secret(text)
        text = _value(source, "CLERK_SECRET_KEY", None)
        if text is None and {"development": False, "staging": True, "production": True}.get(_ENVIRONMENT, False):
            raise ConfigError(f"CLERK_SECRET_KEY is not set (required in {_ENVIRONMENT})")
        self.CLERK_SECRET_KEY = None if text is None else Secret(text)
        text = _value(source, "ENVIRONMENT", "development")
        text = _required("ENVIRONMENT", text)
        self.ENVIRONMENT = text
        text = _value(source, "USE_SECRETS_MANAGER", "false")
        text = _required("USE_SECRETS_MANAGER", text)
        self.USE_SECRETS_MANAGER = _to_bool("USE_SECRETS_MANAGER", text)
        text = _value(source, "AWS_REGION", None)
        if text is None and {"development": False, "staging": True, "production": True}.get(_ENVIRONMENT, False):
            raise ConfigError(f"AWS_REGION is not set (required in {_ENVIRONMENT})")
        self.AWS_REGION = None if text is None else text
        text = _value(source, "SECRETS_CACHE_TTL", "300")
        text = _required("SECRETS_CACHE_TTL", text)
        self.SECRETS_CACHE_TTL = _to_int("SECRETS_CACHE_TTL", text)


env = Env()
"""The environment, read and converted once, at import."""
