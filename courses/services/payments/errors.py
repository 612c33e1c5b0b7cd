"""Conflicts and look-up failures that the payment use cases raise."""

import logging

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound

from courses.exceptions import Conflict

logger = logging.getLogger(__name__)


class AlreadyEnrolled(Conflict):
    default_detail = _("You are already enrolled in this course.")
    default_code = "already_enrolled"


class EnrollmentRefunded(Conflict):
    default_detail = _(
        "Your payment for this course was refunded. Contact support to enroll again."
    )
    default_code = "enrollment_refunded"


class PaymentDisputed(Conflict):
    default_detail = _(
        "Your payment for this course is disputed with your bank. Contact support."
    )
    default_code = "payment_disputed"


class NotRefundable(Conflict):
    """Raised by enrollment_refund: nothing was paid through Stripe."""

    default_detail = _("Only a paid enrollment can be refunded.")
    default_code = "not_refundable"


class PaymentInProgress(Conflict):
    default_detail = _(
        "A payment for this course is being processed. Try again in a few minutes."
    )
    default_code = "payment_in_progress"


class PaymentNotFound(NotFound):
    default_detail = _("No payment with this id was found for you.")
    default_code = "payment_not_found"
