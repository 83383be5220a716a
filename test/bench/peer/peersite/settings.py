"""Settings of the Django peer (test/bench/peer.py): what `django-admin
startproject` writes for Django 3.2, with everything that differs per run
taken from the environment that peer.py sets.  Stock otherwise: the
default apps and middleware (CSRF on), DEBUG off, the SMTP e-mail backend,
the default password hashers."""

import os

from django.core.exceptions import ImproperlyConfigured


def env(name):
    try:
        return os.environ[name]
    except KeyError:
        raise ImproperlyConfigured("peer: environment variable %s is not set"
                                   % name) from None


SECRET_KEY = env("PEER_SECRET_KEY")  # made by peer.py for each run
DEBUG = False
ALLOWED_HOSTS = env("PEER_ALLOWED_HOSTS").split(",")

# startproject's defaults.
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "peersite.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        # The registration/ templates PasswordResetView renders and mails
        # come from django.contrib.admin, as in a stock project.
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
WSGI_APPLICATION = "peersite.wsgi.application"

# The stack's PostgreSQL over its unix socket; CONN_MAX_AGE 0 (Django's
# default: one connection per request) or 600 (persistent).
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": env("PEER_DB_HOST"),
        "PORT": env("PEER_DB_PORT"),
        "NAME": env("PEER_DB_NAME"),
        "USER": "postgres",
        "CONN_MAX_AGE": int(env("PEER_CONN_MAX_AGE")),
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation."
             "UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation."
             "NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_L10N = True
USE_TZ = True
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The stock SMTP backend to the stack's SMTP sink, no TLS (like pwreset's
# bench configuration).  PasswordResetForm sends inside the request.
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = env("PEER_SMTP_HOST")
EMAIL_PORT = int(env("PEER_SMTP_PORT"))
DEFAULT_FROM_EMAIL = "noreply@example.test"
