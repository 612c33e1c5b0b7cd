"""The staff's two-factor pages (enter a code; set up an authenticator app) and
the page that refuses a locked-out sign-in.

They live under ADMIN_URL and look like the admin's sign-in page. They are
reached by a staff member signed in with the password only (the admin's own
pages are not: AdminSecondFactorMiddleware), so each one checks that itself.
"""

import re
from base64 import b32encode
from typing import Any

import segno
from axes.helpers import get_cool_off
from django import forms
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import formats
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from courses.http import client_ip
from courses.second_factor import second_factor_passed
from courses.services.staff_access import (
    CodeCheck,
    staff_device_confirm,
    staff_device_pending,
    staff_has_device,
    staff_second_factor_verify,
)


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code from your authenticator app"),
        max_length=16,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
            }
        ),
    )

    def clean_code(self) -> str:
        code = re.sub(r"\s", "", self.cleaned_data["code"])
        if not re.fullmatch(r"[0-9]{6}", code):
            raise forms.ValidationError(
                gettext_lazy("Enter the 6 digits your authenticator app shows.")
            )
        return code


def _staff_signed_in(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def _next_url(request: HttpRequest) -> str:
    """Where to go once through: the page asked for, if it is on this site."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("admin:index")


def _with_next(url: str, next_url: str) -> str:
    return f"{url}?{urlencode({'next': next_url})}"


def _refusal(check: CodeCheck) -> str:
    if check.retry_at is not None:
        return _(
            "Too many wrong codes. Wait until %(time)s, then enter the code "
            "your app shows."
        ) % {"time": formats.time_format(check.retry_at, "TIME_FORMAT")}
    return _("This code is not valid. Enter the code your app shows now.")


def _pass_second_factor(request: HttpRequest, device: TOTPDevice) -> None:
    # A new session key for the session that now carries more rights.
    request.session.cycle_key()
    otp_login(request, device)


def _page(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    context = {**admin.site.each_context(request), **context}
    return render(request, template, context, status=status)


@never_cache
@sensitive_post_parameters("code")
def second_factor_verify(request: HttpRequest) -> HttpResponse:
    """Ask a staff member signed in with the password for an authenticator code."""
    if not _staff_signed_in(request):
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    next_url = _next_url(request)
    if second_factor_passed(request):
        return HttpResponseRedirect(next_url)
    if not staff_has_device(user=request.user):
        return HttpResponseRedirect(
            _with_next(reverse("staff_second_factor_setup"), next_url)
        )
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        check = staff_second_factor_verify(
            user=request.user,
            token=form.cleaned_data["code"],
            ip_address=client_ip(request),
        )
        if check.device is not None:
            _pass_second_factor(request, check.device)
            return HttpResponseRedirect(next_url)
        form.add_error("code", _refusal(check))
    return _page(
        request,
        "admin/staff_access/verify.html",
        {"title": _("Two-factor sign-in"), "form": form, "next": next_url},
    )


@never_cache
@sensitive_post_parameters("code")
def second_factor_setup(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app, for a staff member who has none confirmed.

    Someone who already has one cannot add another here with the password
    alone: they are sent to enter a code (a superuser resets a lost one).
    """
    if not _staff_signed_in(request):
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    next_url = _next_url(request)
    if staff_has_device(user=request.user):
        return HttpResponseRedirect(
            _with_next(reverse("staff_second_factor"), next_url)
        )
    device = staff_device_pending(user=request.user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        check = staff_device_confirm(
            user=request.user,
            token=form.cleaned_data["code"],
            ip_address=client_ip(request),
        )
        if check.device is not None:
            _pass_second_factor(request, check.device)
            return HttpResponseRedirect(next_url)
        form.add_error("code", _refusal(check))
    uri = device.config_url
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return _page(
        request,
        "admin/staff_access/setup.html",
        {
            "title": _("Set up two-factor sign-in"),
            "form": form,
            "next": next_url,
            "otpauth_uri": uri,
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "qr_code": segno.make(uri, error="m").svg_data_uri(scale=5, border=2),
        },
    )


def staff_locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """The answer to a sign-in refused by the lockout (AXES_LOCKOUT_CALLABLE):
    a page saying so, 429 with Retry-After, for the failure that locked and for
    every attempt while locked."""
    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else 0
    response = _page(
        request,
        "admin/staff_access/locked_out.html",
        {
            "title": _("Sign-in locked"),
            "minutes": max(1, -(-seconds // 60)),
            "login_url": reverse("admin:login"),
        },
        status=429,
    )
    response["Retry-After"] = str(seconds)
    add_never_cache_headers(response)
    return response
