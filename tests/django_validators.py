"""The reference judgement of URLs and e-mail addresses: Django's own validators.

Reads a JSON list of [kind, value, schemes] on stdin ("url" or "email"); prints a
JSON list of booleans: whether `URLValidator(schemes=schemes)` or `validate_email`
accepts each value."""

import json
import sys

from django.conf import settings

settings.configure()

from django.core.exceptions import ValidationError  # noqa: E402
from django.core.validators import URLValidator, validate_email  # noqa: E402


def accepts(kind, value, schemes):
    validator = URLValidator(schemes=schemes) if kind == "url" else validate_email
    try:
        validator(value)
    except ValidationError:
        return False
    return True


json.dump([accepts(*case) for case in json.load(sys.stdin)], sys.stdout)
