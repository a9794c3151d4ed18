"""The JSON parser of the REST API: camelCase in, strict JSON, and no input that can crash it."""

import json

from django.conf import settings
from djangorestframework_camel_case.parser import CamelCaseJSONParser
from djangorestframework_camel_case.settings import api_settings as camel_settings
from djangorestframework_camel_case.util import underscoreize
from rest_framework.exceptions import ParseError


def _reject_constant(name: str) -> None:
    # NaN and Infinity are not JSON (RFC 8259) and PostgreSQL's jsonb refuses them.
    raise ValueError(f"{name} is not valid JSON")


def _reject_lone_surrogates(data) -> None:
    # "\ud800" is valid JSON but not a character: no database can store it, and the UTF-8 encoder raises.
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("a \\u escape names half a UTF-16 surrogate pair, which is not a character") from exc


class JSONParser(CamelCaseJSONParser):
    """CamelCaseJSONParser that also refuses NaN/Infinity, lone surrogates and absurd nesting with a 400, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
            data = json.loads(text, parse_constant=_reject_constant)
            _reject_lone_surrogates(data)
            return underscoreize(data, **camel_settings.JSON_UNDERSCOREIZE)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        except RecursionError as exc:
            raise ParseError("JSON parse error - the document is nested too deeply.") from exc
