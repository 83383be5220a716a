"""startproject's urls.py plus django.contrib.auth.urls, whose
password_reset/ is the stock PasswordResetView.  Everything sits under
PEER_PREFIX (e.g. "django/"), the nginx location that proxies to
gunicorn, so that the redirects Django answers name real paths."""

import os

from django.contrib import admin
from django.urls import include, path

prefix = os.environ.get("PEER_PREFIX", "").strip("/")
prefix = prefix + "/" if prefix else ""

urlpatterns = [
    path(prefix + "admin/", admin.site.urls),
    path(prefix, include("django.contrib.auth.urls")),
]
