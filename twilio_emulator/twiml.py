"""Reading TwiML the way Twilio does: a <Response> of verbs, each with attributes, text and nested nouns.

Parsing is strict where Twilio is strict (not XML, not a <Response>, a verb nested where Twilio forbids it:
error 12100/12200, the call hears "an application error has occurred") so a product bug shows up here
instead of on the first real call.
"""

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from .util import short_path

# Verbs this emulator plays. Others that Twilio knows are reported and skipped.
PLAYED_VERBS = {
    "Say",
    "Play",
    "Pause",
    "Gather",
    "Dial",
    "Record",
    "Redirect",
    "Hangup",
    "Reject",
    "Enqueue",
    "Leave",
}
KNOWN_VERBS = PLAYED_VERBS | {"Connect", "Start", "Stop", "Refer", "Pay", "Prompt", "Sms", "Message", "Echo"}

# What may nest inside what (from Twilio's TwiML reference and twilio-node's generated VoiceResponse rules).
ALLOWED_CHILDREN = {
    "Gather": {"Say", "Play", "Pause"},
    "Dial": {"Number", "Client", "Conference", "Queue", "Sip", "Sim", "Application", "WhatsApp"},
    "Client": {"Identity", "Parameter"},
    "Number": set(),
    "Conference": set(),
    "Queue": set(),
    "Enqueue": {"Task"},
    "Say": {"break", "emphasis", "lang", "p", "phoneme", "prosody", "s", "say-as", "sub", "w", "amazon:effect"},
    "Play": set(),
    "Pause": set(),
    "Record": set(),
    "Redirect": set(),
    "Hangup": {"Parameter"},
    "Reject": {"Parameter"},
    "Leave": set(),
}
# Only these may appear in TwiML served from a conference waitUrl or holdUrl (error 13238).
WAIT_VERBS = {"Say", "Play", "Pause", "Redirect"}


class TwimlError(Exception):
    """Twilio could not use the document: `code` is Twilio's error code (12100 parse, 12200 schema)."""

    def __init__(self, code: int, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class Verb:
    name: str
    attrs: dict[str, str] = field(default_factory=dict)
    text: str = ""
    children: list["Verb"] = field(default_factory=list)

    def attr(self, name: str, default: str = "") -> str:
        return self.attrs.get(name, default)

    def summary(self) -> str:
        """`<Say>Thank you…</Say>`-style one-liner for the timeline."""
        attrs = " ".join(f'{k}="{short_path(v)}"' for k, v in self.attrs.items() if k in _SHOWN_ATTRS)
        head = f"<{self.name}{' ' + attrs if attrs else ''}>"
        inner = ""
        if self.children:
            inner = "".join(child.summary() for child in self.children)
        elif self.text:
            text = short_path(self.text)
            inner = text if len(text) <= 40 else text[:39] + "…"
        return f"{head}{inner}</{self.name}>" if inner else head


_SHOWN_ATTRS = {"input", "numDigits", "action", "timeout", "reason", "startConferenceOnEnter", "endConferenceOnExit"}


@dataclass
class Document:
    """A TwiML document and the URL it came from (relative action URLs resolve against it)."""

    url: str
    method: str
    verbs: list[Verb]
    xml: str = ""

    def summary(self) -> str:
        return " ".join(verb.summary() for verb in self.verbs) or "<Response/> (empty: hang up)"


def _strip_ns(tag: str) -> str:
    return tag.split("}", 1)[1] if tag.startswith("{") else tag


def _element_to_verb(element: ET.Element, parent: str | None) -> Verb:
    name = _strip_ns(element.tag)
    allowed = ALLOWED_CHILDREN.get(parent, set()) if parent else KNOWN_VERBS
    if parent is None and name not in KNOWN_VERBS:
        raise TwimlError(12200, f"<{name}> is not a TwiML verb")
    if parent is not None and name not in allowed:
        raise TwimlError(12200, f"<{name}> is not allowed inside <{parent}>")
    children: list[Verb] = []
    if name == "Say":
        # SSML inside <Say> is speech, not structure: keep the words.
        text = " ".join("".join(element.itertext()).split())
    else:
        text = (element.text or "").strip()
        children = [_element_to_verb(child, name) for child in element]
    return Verb(name=name, attrs=dict(element.attrib), text=text, children=children)


def parse(xml_text: str, *, url: str, method: str) -> Document:
    try:
        root = ET.fromstring(xml_text.strip())
    except ET.ParseError as exc:
        raise TwimlError(12100, f"Document parse failure: {exc}") from exc
    if _strip_ns(root.tag) != "Response":
        raise TwimlError(12100, f"The root element is <{_strip_ns(root.tag)}>, not <Response>")
    verbs = [_element_to_verb(child, None) for child in root]
    return Document(url=url, method=method, verbs=verbs, xml=xml_text)
