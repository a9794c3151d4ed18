"""The Twilio side of a phone line, as voiceconfig sees it: an interface voicetwilio fills in.

voiceconfig never imports voicetwilio (DESIGN.md), yet saving a line in the admin or over REST must point its
number at us on Twilio. voicetwilio registers the implementation when the apps load
(`voicetwilio.apps.VoicetwilioConfig.ready`); voiceconfig calls it through `provisioner()`.
"""

from dataclasses import dataclass
from typing import Protocol

from django.conf import settings


class NumberRefused(Exception):
    """The line's number cannot be pointed at us (the API answers 400, the admin shows a form error)."""


class NumberNotOnAccount(NumberRefused):
    """The line's number is not one of the Twilio account's numbers."""


class NumberAnsweredByApplication(NumberRefused):
    """A TwiML application answers the number's calls, whatever its voice URL says (Twilio's contract gives no
    way to detach it over the API: a person removes it in Twilio's console)."""


@dataclass(frozen=True)
class LineState:
    """How a line's number looks on Twilio: `code` is in-sync, drifted, not-on-account, no-number or unknown."""

    code: str
    label: str
    detail: str = ""


class Provisioner(Protocol):
    def attach(self, *, phone_number: str, line=None) -> str:
        """Point the number's three URLs at us; return its SID. Raises NumberRefused, or a gateway error.

        `line` (a PhoneLine, saved or not, with its config) gives the fallback URL its query string."""

    def buy(self, *, phone_number: str, friendly_name: str = "") -> str:
        """Buy a number for sale with our URLs already set; return its SID."""

    def release(self, *, sid: str) -> None:
        """Release the number from the account."""

    def states(self, lines: list) -> dict[int, LineState]:
        """Each line's state by line id, from one listing of the account's numbers."""


_provisioner: Provisioner | None = None


def register(implementation: Provisioner) -> None:
    global _provisioner
    _provisioner = implementation


def provisioner() -> Provisioner:
    if _provisioner is None:
        raise RuntimeError("no Twilio provisioner registered: is voicetwilio in INSTALLED_APPS?")
    return _provisioner


def provisioning_on() -> bool:
    """TWILIO_PROVISIONING: lines configure their numbers on Twilio when saved."""
    return bool(settings.TWILIO_PROVISIONING)
