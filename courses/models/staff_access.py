"""The record of staff sign-ins: every password attempt, lockout, unlock and
second-factor step, with who, when and from which IP address.

Rows are written by courses/services/staff_access.py only, never changed or
deleted through the admin. They hold no password, code or authenticator secret.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class StaffSignInEvent(models.Model):
    class Kind(models.TextChoices):
        SIGNED_IN = "signed_in", _("Password accepted")
        FAILED = "failed", _("Wrong username or password")
        LOCKED_OUT = "locked_out", _("Locked out: too many failures")
        REFUSED = "refused", _("Refused while locked out")
        UNLOCKED = "unlocked", _("Unlocked")
        CODE_ACCEPTED = "code_accepted", _("Authenticator code accepted")
        CODE_REFUSED = "code_refused", _("Wrong authenticator code")
        DEVICE_CONFIRMED = "device_confirmed", _("Authenticator set up")
        DEVICE_RESET = "device_reset", _("Authenticator reset")

    kind = models.CharField(_("event"), max_length=32, choices=Kind)
    # As typed at sign-in (the account may not exist); the account, when it does.
    username = models.CharField(_("username"), max_length=150, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("account"),
    )
    ip_address = models.GenericIPAddressField(
        _("IP address"), null=True, blank=True, db_index=True
    )
    # Who unlocked or reset, when done in the admin (empty: the command line).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("done by"),
    )
    detail = models.CharField(_("detail"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("staff sign-in event")
        verbose_name_plural = _("staff sign-in events")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.username}"
