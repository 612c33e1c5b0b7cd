"""Signing staff in for tests, past both factors, and authenticator codes
computed here from a device's key (RFC 6238), independently of django-otp."""

import hmac
import struct
import time
from hashlib import sha1

from django.contrib.auth.models import AbstractBaseUser
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice


def totp_code(key: bytes, *, at: float | None = None, step: int = 30) -> str:
    """The 6-digit code an authenticator app shows for this key (RFC 6238)."""
    counter = int((time.time() if at is None else at) // step)
    digest = hmac.new(key, struct.pack(">Q", counter), sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def staff_device(user: AbstractBaseUser) -> TOTPDevice:
    """A confirmed authenticator for this staff member."""
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def sign_in_staff(client: Client, user: AbstractBaseUser) -> TOTPDevice:
    """Signed in as after the password and a code: the session holds the user
    and the device that verified them, as django-otp's login() leaves it."""
    device = staff_device(user)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device


PLAIN_STATIC = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}


def plain_static(settings) -> None:
    """Admin pages render without collectstatic's manifest."""
    settings.STORAGES = {**settings.STORAGES, "staticfiles": PLAIN_STATIC}
