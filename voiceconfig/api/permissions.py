"""Who may do what: staff manage everything; an agent reads only what is theirs."""

from django.core.exceptions import ObjectDoesNotExist
from rest_framework.permissions import SAFE_METHODS, BasePermission


def agent_of(user) -> "object | None":
    """The VoiceAgent linked to this user, or None."""
    if not user or not user.is_authenticated:
        return None
    try:
        return user.voice_agent
    except ObjectDoesNotExist:  # the user is not an agent (a database failure is not swallowed as "not an agent")
        return None


class IsStaff(BasePermission):
    message = "Only staff may manage the voice configuration."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


class IsStaffOrAgentReadOnly(BasePermission):
    """Staff do anything; an agent may read (the view narrows the rows to their own)."""

    message = "Agents may only read their own records; changes are made by staff."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if user.is_staff:
            return True
        return request.method in SAFE_METHODS and agent_of(user) is not None
