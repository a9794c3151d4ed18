"""Forms and widgets of the Django admin: real inputs for numbers, times, dates and menu keys, and friendly errors.

A contact-centre manager types a number the way it is printed (`+44 20 7946 0958`, `0044 20...`) and gets it
stored in E.164; picks times and dates with the browser's own pickers; chooses an IVR key from a list; and is
told in words, before anything reaches the database, when two opening ranges overlap or a forward option has no
number to forward to.
"""

import zoneinfo

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe

from .line_numbers import NumberRefused, provisioner, provisioning_on
from .models import BusinessHours, Holiday, IvrOption, PhoneLine, VoiceAgent, VoiceConfig
from .validators import (
    DTMF_KEYS,
    normalize_e164,
    validate_forward_number,
    validate_ivr_message,
    validate_opening_hours_do_not_overlap,
    validate_opening_range,
    week_intervals,  # noqa: F401 - imported from here by older tests
)

# Countries offered first in the number picker; any other two-letter ISO code can be typed.
NUMBER_COUNTRIES = [
    ("US", "United States"),
    ("CA", "Canada"),
    ("GB", "United Kingdom"),
    ("IE", "Ireland"),
    ("AU", "Australia"),
    ("NZ", "New Zealand"),
    ("DE", "Germany"),
    ("FR", "France"),
    ("NL", "Netherlands"),
    ("BE", "Belgium"),
    ("ES", "Spain"),
    ("IT", "Italy"),
    ("PT", "Portugal"),
    ("SE", "Sweden"),
    ("DK", "Denmark"),
    ("NO", "Norway"),
    ("FI", "Finland"),
    ("PL", "Poland"),
    ("CH", "Switzerland"),
    ("AT", "Austria"),
    ("IL", "Israel"),
    ("ZA", "South Africa"),
    ("JP", "Japan"),
    ("HK", "Hong Kong"),
    ("SG", "Singapore"),
    ("MX", "Mexico"),
    ("BR", "Brazil"),
]
NUMBER_KINDS = [("local", "Local"), ("tollFree", "Toll-free"), ("mobile", "Mobile")]


class E164FormField(forms.CharField):
    """A phone number typed in any international form, cleaned to E.164 (+14155550100)."""

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return value
        return normalize_e164(value)  # also reads a leading `00` as the +


class PhoneNumberSearchInput(forms.TextInput):
    """The number field plus a picker that searches the numbers Twilio has for sale and fills the field."""

    def __init__(self, attrs=None):
        super().__init__(
            {"placeholder": "+14155550100", "autocomplete": "off", "inputmode": "tel", "class": "vTextField"}
            | (attrs or {})
        )

    class Media:
        css = {"all": ["voice/admin.css"]}
        js = ["voice/number_search.js"]

    def render(self, name, value, attrs=None, renderer=None):
        field = super().render(name, value, attrs, renderer)
        picker = render_to_string(
            "admin/voiceconfig/widgets/number_search.html",
            {
                "input_id": (attrs or {}).get("id") or f"id_{name}",
                "search_url": reverse("phonenumber-search"),  # GET /voiceconfig/phonenumbers
                "countries": NUMBER_COUNTRIES,
                "kinds": NUMBER_KINDS,
                # Set by the line admin for staff allowed to buy numbers (admin_lines.LineProvisioningAdmin).
                "buy_url": getattr(self, "buy_url", ""),
            },
        )
        return mark_safe(f'<div class="voice-number-field">{field}{picker}</div>')  # noqa: S308 - both escaped


class PhoneLineAdminForm(forms.ModelForm):
    phone_number = E164FormField(
        label="Phone number",
        max_length=32,
        widget=PhoneNumberSearchInput(),
        help_text="In international form, e.g. +1 415 555 0100; stored as E.164. "
        "Or search the numbers Twilio has for sale below and pick one.",
    )

    class Meta:
        model = PhoneLine
        fields = ["name", "phone_number", "twilio_sid", "config", "enabled", "agents", "default_department"]
        widgets = {"name": forms.TextInput(attrs={"placeholder": "Support line", "class": "vTextField"})}
        labels = {"twilio_sid": "Twilio number SID"}
        help_texts = {
            "twilio_sid": "PN followed by 32 hex digits, from your Twilio console. Optional.",
            "agents": "Who answers this line. Choose nobody and every agent answers it.",
            "enabled": "A disabled line tells callers it is not in service.",
        }

    def clean(self):
        """Issue 15: an enabled line's number is pointed at us on Twilio before the line is saved (the admin runs
        this outside a transaction); refused with the reason when Twilio cannot route it to us."""
        cleaned = super().clean()
        if self.errors or not provisioning_on() or not cleaned.get("enabled") or not cleaned.get("phone_number"):
            return cleaned
        try:
            line = PhoneLine(phone_number=cleaned["phone_number"], config=cleaned.get("config"), enabled=True)
            cleaned["twilio_sid"] = provisioner().attach(phone_number=cleaned["phone_number"], line=line)
        except NumberRefused as exc:
            self.add_error("phone_number", str(exc))
        except Exception as exc:
            if not hasattr(exc, "api_status"):  # a Twilio failure, as the gateway reports it
                raise
            raise ValidationError(f"Twilio did not take the line's URLs, so the line was not saved: {exc}") from exc
        return cleaned


def _time_input() -> forms.TimeInput:
    return forms.TimeInput(format="%H:%M", attrs={"type": "time", "step": 60, "class": "voice-time"})


class BusinessHoursForm(forms.ModelForm):
    class Meta:
        model = BusinessHours
        fields = ["weekday", "opens_at", "closes_at"]
        widgets = {"opens_at": _time_input(), "closes_at": _time_input()}
        help_texts = {"closes_at": "Before the opening time means the range runs past midnight."}

    def clean(self):
        cleaned = super().clean()
        opens, closes = cleaned.get("opens_at"), cleaned.get("closes_at")
        if opens is not None and closes is not None:
            validate_opening_range(opens, closes)
        return cleaned


class BusinessHoursFormSet(forms.BaseInlineFormSet):
    """Rejects ranges that overlap, naming both, so the weekly schedule always reads one way."""

    def clean(self):
        super().clean()
        ranges = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if not data or data.get("DELETE") or form.errors:
                continue
            weekday, opens, closes = data.get("weekday"), data.get("opens_at"), data.get("closes_at")
            if weekday is not None and opens is not None and closes is not None:
                ranges.append((int(weekday), opens, closes))
        validate_opening_hours_do_not_overlap(ranges)


class HolidayForm(forms.ModelForm):
    class Meta:
        model = Holiday
        fields = ["date", "name"]
        widgets = {
            "date": forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
            "name": forms.TextInput(attrs={"placeholder": "New Year's Day"}),
        }


class IvrOptionForm(forms.ModelForm):
    digit = forms.ChoiceField(
        label="Key", choices=[("", "–")] + [(key, key) for key in DTMF_KEYS], help_text="The key the caller presses."
    )
    forward_to = E164FormField(
        label="Forward to",
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"placeholder": "+14155550123", "size": 14}),
    )

    class Meta:
        model = IvrOption
        fields = ["digit", "label", "keywords", "action", "message", "forward_to", "department"]
        widgets = {
            "label": forms.TextInput(attrs={"placeholder": "for sales", "size": 14}),
            "keywords": forms.TextInput(attrs={"placeholder": "sales, buy", "size": 14}),
            "action": forms.Select(attrs={"class": "voice-ivr-action"}),
            "message": forms.Textarea(attrs={"rows": 1, "cols": 22, "placeholder": "Words read to the caller"}),
        }

    def clean(self):
        cleaned = super().clean()
        action = cleaned.get("action")
        if "message" not in self.errors:
            validate_ivr_message(action=action, message=cleaned.get("message"))
        if "forward_to" not in self.errors:  # an unreadable number is already reported against the field
            # Raised from clean(), a field-keyed error lands on that field (Form._clean_form).
            validate_forward_number(action=action, number=cleaned.get("forward_to"), field="forward_to")
        return cleaned


def _time_zone_choices() -> list[tuple[str, str]]:
    zones = sorted(zone for zone in zoneinfo.available_timezones() if "/" in zone or zone == "UTC")
    return [(zone, zone.replace("_", " ")) for zone in zones]


class VoiceConfigAdminForm(forms.ModelForm):
    time_zone = forms.ChoiceField(
        choices=_time_zone_choices, initial="UTC", help_text="Business hours and holidays are read in this zone."
    )
    after_hours_forward_to = E164FormField(
        label="After hours forward to",
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"placeholder": "+14155550123"}),
    )

    class Meta:
        model = VoiceConfig
        # The admin's fieldsets decide which fields the page shows; these are the ones this form shapes.
        fields = [
            "name",
            "greeting_text",
            "ivr_prompt",
            "time_zone",
            "after_hours_action",
            "after_hours_message",
            "after_hours_forward_to",
            "unavailable_message",
            "voicemail_prompt",
        ]
        widgets = {
            name: forms.Textarea(attrs={"rows": 2, "cols": 60})
            for name in (
                "greeting_text",
                "ivr_prompt",
                "after_hours_message",
                "unavailable_message",
                "voicemail_prompt",
            )
        }
        labels = {
            "ivr_prompt": "IVR prompt",
            "ivr_max_attempts": "IVR attempts",
            "ivr_timeout_seconds": "Seconds to answer",
            "greeting_audio_url": "Greeting audio URL",
            "hold_music_url": "Hold music URL",
            "wrap_up_seconds": "Wrap-up seconds",
        }
        help_texts = {
            "ivr_prompt": "Read before the options, e.g. 'For sales press 1 or say sales.' Empty: no menu.",
            "ivr_timeout_seconds": "How long the caller has to press a key or speak before the prompt repeats.",
            "greeting_audio_url": "Played instead of the greeting text when given.",
            "wrap_up_seconds": "After a call, the agent gets this long before the next one is offered.",
        }

    def clean(self):
        cleaned = super().clean()
        if "after_hours_forward_to" not in self.errors:  # an unreadable number is already reported
            validate_forward_number(
                action=cleaned.get("after_hours_action"),
                number=cleaned.get("after_hours_forward_to"),
                field="after_hours_forward_to",
            )
        return cleaned


class VoiceAgentAddForm(forms.ModelForm):
    """Adding an agent: create their login here in one step, or link a user who already exists."""

    username = forms.CharField(
        label="New login name",
        required=False,
        max_length=150,
        help_text="Creates the agent's login. Leave empty to link an existing user instead.",
    )
    password = forms.CharField(
        label="Password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="The agent signs in to the console with the login name and this password.",
    )
    identity = forms.CharField(
        required=False,
        max_length=121,
        help_text="Twilio client identity; derived from the login name when left empty.",
    )

    class Meta:
        model = VoiceAgent
        fields = ["username", "password", "user", "display_name", "identity"]
        help_texts = {"display_name": "Shown to colleagues and on the live overview; the login name when empty."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].required = False
        self.fields["user"].help_text = "Or link an existing user (leave the login name empty)."

    def clean_username(self) -> str:
        username = self.cleaned_data.get("username", "").strip()
        if username and get_user_model().objects.filter(username__iexact=username).exists():
            raise ValidationError("A user with this login name already exists: link them below instead.")
        return username

    def clean(self):
        cleaned = super().clean()
        username, user = cleaned.get("username"), cleaned.get("user")
        if username and user:
            raise ValidationError("Either create a new login or link an existing user, not both.")
        if not username and not user and "username" not in self.errors:
            raise ValidationError("Give the agent a login name and password, or link an existing user.")
        if username:
            password = cleaned.get("password") or ""
            if not password:
                self.add_error("password", "A new login needs a password.")
            else:
                try:
                    password_validation.validate_password(password, get_user_model()(username=username))
                except ValidationError as exc:
                    self.add_error("password", exc)
        if user is not None and VoiceAgent.objects.filter(user=user).exists():
            self.add_error("user", "This user is already an agent.")
        return cleaned

    def _post_clean(self):
        # The instance has no user yet when a new login is created; the admin's save_model creates both.
        if self.cleaned_data.get("username"):
            return
        super()._post_clean()
