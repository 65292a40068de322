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

_TRUE_WORDS = frozenset({@TRUE_WORDS@})
_FALSE_WORDS = frozenset({@FALSE_WORDS@})
_WHITESPACE = @WHITESPACE@
_MILLIS_PER_UNIT = {@MILLIS_PER_UNIT@}
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

