"""Reads a JSON list of SECRET_KEY candidates on stdin and prints, as a JSON list of
booleans, whether Django's deployment checks (what `manage.py check --deploy` runs)
report security.W009 for each."""

import json
import sys

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="placeholder",
    ALLOWED_HOSTS=["example.com"],
    INSTALLED_APPS=[],
    MIDDLEWARE=[],
)
django.setup()

from django.core.checks import run_checks  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

keys = json.load(sys.stdin)
flags = []
for key in keys:
    with override_settings(SECRET_KEY=key):
        messages = run_checks(include_deployment_checks=True)
    flags.append(any(message.id == "security.W009" for message in messages))
json.dump(flags, sys.stdout)
