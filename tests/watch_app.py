"""A one-file Django project for the `--watch` test of envgate.

gunicorn serves it under `envgate --watch`; its only view answers the first 16
hex digits of the SHA-256 of API_TOKEN as the worker sees it, and the worker's
pid, so the test can tell which value is being served without printing it.
"""

import hashlib
import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpResponse
from django.urls import path

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["127.0.0.1"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    SECRET_KEY="watch-test-fixture-not-a-secret-0123456789-abcdefghijklmnop",
)


def token_digest(request):
    token = os.environ.get("API_TOKEN", "")
    digest = hashlib.sha256(token.encode()).hexdigest()[:16]
    return HttpResponse(f"{digest} {os.getpid()}", content_type="text/plain")


urlpatterns = [path("", token_digest)]

application = get_wsgi_application()
