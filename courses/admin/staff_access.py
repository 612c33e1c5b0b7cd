"""Staff sign-in in the admin, for superusers: the record of sign-ins, the
current lockouts (with an unlock action), and who has an authenticator.

Also `requires_second_factor`, for the admin actions that move money.
"""

import functools
from collections.abc import Callable
from typing import Any

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_totp.models import TOTPDevice

from courses.models import StaffSignInEvent
from courses.second_factor import second_factor_passed
from courses.services.staff_access import staff_lockout_clear


def requires_second_factor(action: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse an admin action to a session that has not passed the second factor
    (when ADMIN_REQUIRE_2FA asks for one), whatever let the request through."""

    @functools.wraps(action)
    def checked(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset):
        if not second_factor_passed(request):
            modeladmin.message_user(
                request,
                _(
                    "Refused: this action needs a session that passed the "
                    "two-factor sign-in. Sign out, then sign in again with your "
                    "authenticator code."
                ),
                messages.ERROR,
            )
            return None
        return action(modeladmin, request, queryset)

    return checked


class SuperuserOnlyMixin:
    """Visible to superusers only; rows are written by the sign-in flow."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(StaffSignInEvent)
class StaffSignInEventAdmin(SuperuserOnlyMixin, admin.ModelAdmin):
    list_display = ["created_at", "kind", "username", "ip_address", "actor", "detail"]
    list_filter = ["kind", "created_at"]
    search_fields = ["=username", "=ip_address"]
    search_help_text = _("An exact username or IP address.")
    list_select_related = ["actor"]
    date_hierarchy = "created_at"
    actions = None

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return [field.name for field in self.model._meta.fields]


@admin.register(AccessAttempt)
class StaffLockoutAdmin(SuperuserOnlyMixin, AccessAttemptAdmin):
    """axes' failure counters per username and IP address; "Locked Out" once
    the limit is reached. Unlocking goes through the action, which records it."""

    actions = ["unlock"]

    def has_unlock_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    @admin.action(
        description=_("Unlock: forget these failures and lift the lockout"),
        permissions=["unlock"],
    )
    def unlock(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        unlocked = 0
        pairs = queryset.exclude(username=None).values_list("username", "ip_address")
        for username, ip_address in sorted(set(pairs), key=str):
            if staff_lockout_clear(
                username=username, ip_address=ip_address, actor=request.user
            ):
                unlocked += 1
        self.message_user(
            request,
            ngettext(
                "%(count)d username and address unlocked.",
                "%(count)d usernames and addresses unlocked.",
                unlocked,
            )
            % {"count": unlocked},
            messages.SUCCESS,
        )


# django-otp's own page shows each device's secret and QR code: replaced.
if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class AuthenticatorAdmin(SuperuserOnlyMixin, admin.ModelAdmin):
    """Who has set up an authenticator app, never its secret. A lost one is
    reset with `manage.py reset_staff_2fa --username NAME` (recorded)."""

    list_display = ["user", "name", "confirmed", "created_at", "last_used_at"]
    list_filter = ["confirmed"]
    search_fields = ["user__username"]
    list_select_related = ["user"]
    fields = ["user", "name", "confirmed", "created_at", "last_used_at"]
    readonly_fields = fields
    actions = None
