"""Request body parsers: DRF's JSON parser, with too-deep nesting a 400, not a 500."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSONParser, except that a body nested too deeply is a 400.

    Python's json module raises RecursionError, not ValueError, on `[[[[...`
    nested a few thousand levels, and DRF only turns ValueError into a 400:
    100 KB of brackets, far under the body size limit, was a 500.
    """

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("The JSON body is nested too deeply.")) from None
