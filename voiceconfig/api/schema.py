"""OpenAPI that tells the truth about errors: every JSON operation lists the envelope responses it can give.

drf-spectacular documents the success responses it can see. The error envelope (decision 13) comes from the
exception handler instead, so this AutoSchema adds it: 400 where the request has a body or filters, 401 and 403
where a permission applies, 404 on detail paths and paginated lists, 409 on writes, 429 where a throttle applies.
A view that declares its own error responses keeps them; one declared without a body gets the envelope's.
"""

from drf_spectacular import openapi
from drf_spectacular.plumbing import force_instance
from rest_framework import serializers
from rest_framework.permissions import AllowAny


class ErrorSerializer(serializers.Serializer):
    """The error envelope of every REST error."""

    error = serializers.CharField(help_text="Machine-readable code: validation_error, not_found, conflict, ...")
    message = serializers.CharField(help_text="A sentence for a person, naming the field or the reason.")


class ValidationErrorSerializer(ErrorSerializer):
    """The envelope of a 400, with each field's messages."""

    details = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text='Each field\'s sentences by camelCase field name, e.g. {"phoneNumber": ["..."]}; errors of the '
        'whole request under "nonFieldErrors". Always this shape.',
    )


_DESCRIPTIONS = {
    "400": "Invalid input (malformed JSON, a wrong type, a value out of range, an unknown filter value).",
    "401": "No valid access token.",
    "403": "Authenticated, but this user may not do this.",
    "404": "No such object (or not one of yours), or no such page.",
    "409": "The current state forbids it (a config still used by a line, an agent on a live call).",
    "413": "The request body is too large.",
    "415": "The body's content type is not JSON, form data or multipart.",
    "429": "Too many requests; retry after the number of seconds in Retry-After.",
    "502": "Twilio refused or failed; nothing was changed.",
    "503": "Twilio is not configured on this server.",
}


class AutoSchema(openapi.AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response" or not self._renders_json():
            return responses
        for code in self._error_codes():
            if code not in responses:
                responses[code] = self._error_response(code)
        # Every error the view declares carries the envelope too (the console's 409, 502 and 503 among them),
        # keeping the view's own description.
        for code, response in responses.items():
            if code.isdigit() and int(code) >= 400 and not response.get("content"):
                described = response.get("description")
                responses[code] = self._error_response(code)
                responses[code]["description"] = described or responses[code]["description"]
        return responses

    def _map_basic_serializer(self, serializer, direction):
        result = super()._map_basic_serializer(serializer, direction)
        if direction == "response" and isinstance(force_instance(serializer), serializers.ModelSerializer):
            # A model serializer's answer always carries every field it documents (call `from` and `to` included,
            # though a client may leave them out when writing): clients can rely on them.
            result["required"] = sorted(result.get("properties", {}))
        return result

    def _error_response(self, code: str) -> dict:
        serializer = ValidationErrorSerializer if code == "400" else ErrorSerializer
        response = self._get_response_for_code(serializer, code)
        response["description"] = _DESCRIPTIONS.get(code, "Error.")
        return response

    def _renders_json(self) -> bool:
        renderers = getattr(self.view, "renderer_classes", None) or []
        return any(getattr(renderer, "media_type", "") == "application/json" for renderer in renderers)

    def _error_codes(self) -> list[str]:
        method = self.method.upper()
        has_body = method in ("POST", "PUT", "PATCH")
        codes = []
        if has_body or (method == "GET" and self._is_list_view()):
            codes.append("400")
        permissions = getattr(self.view, "permission_classes", None) or []
        if any(permission is not AllowAny for permission in permissions):
            codes += ["401", "403"]
        if "{" in self.path or (method == "GET" and self._is_list_view()):
            codes.append("404")
        if method in ("POST", "PUT", "PATCH", "DELETE") and self._is_model_view():
            codes.append("409")
        if has_body:
            codes += ["413", "415"]
        if getattr(self.view, "throttle_classes", None):
            codes.append("429")
        # A view may add a code the rules above cannot see (`schema_error_codes_extra = {"401"}`, e.g. a login
        # refusing a password) and opt out of one it can never answer (`schema_error_codes_excluded = {"409"}`).
        codes += [code for code in sorted(getattr(self.view, "schema_error_codes_extra", ())) if code not in codes]
        excluded = set(getattr(self.view, "schema_error_codes_excluded", ()))
        return [code for code in codes if code not in excluded]

    def _is_model_view(self) -> bool:
        return getattr(self.view, "queryset", None) is not None
