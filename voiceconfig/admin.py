"""Django admin for every table, for a contact-centre manager rather than a developer."""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator

from . import calls as call_services
from . import services, twofactor
from .admin_display import call_hold, call_recording, call_state, call_talk, call_transfers, call_wait, week_at_a_glance
from .admin_forms import (
    BusinessHoursForm,
    BusinessHoursFormSet,
    HolidayForm,
    IvrOptionForm,
    PhoneLineAdminForm,
    VoiceAgentAddForm,
    VoiceConfigAdminForm,
)
from .admin_lines import LineProvisioningAdmin
from .admin_timeline import call_timeline
from .models import (
    AgentStatus,
    BusinessHours,
    Call,
    Callback,
    CallLog,
    Holiday,
    IvrOption,
    PhoneLine,
    PreLoginAttempt,
    TrustedDevice,
    TwoFactorDevice,
    VoiceAgent,
    VoiceConfig,
)
from .validators import DTMF_KEYS


class BusinessHoursInline(admin.TabularInline):
    model = BusinessHours
    form = BusinessHoursForm
    formset = BusinessHoursFormSet
    extra = 0
    verbose_name = "opening range"
    verbose_name_plural = "Weekly business hours (no ranges: open around the clock)"


class HolidayInline(admin.TabularInline):
    model = Holiday
    form = HolidayForm
    extra = 0
    verbose_name_plural = "Holidays (closed all day: the after-hours action applies)"


class IvrOptionInline(admin.TabularInline):
    model = IvrOption
    form = IvrOptionForm
    extra = 0
    max_num = len(DTMF_KEYS)
    verbose_name = "menu option"
    verbose_name_plural = "IVR menu options (read after the IVR prompt; none means no menu)"


@admin.register(VoiceConfig)
class VoiceConfigAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "time_zone",
        "after_hours_action",
        "ring_timeout_seconds",
        "max_queue_wait_seconds",
        "voicemail_enabled",
        "recording_policy",
        "updated_at",
    ]
    list_filter = ["after_hours_action", "voicemail_enabled", "recording_policy", "time_zone"]
    search_fields = ["name", "greeting_text"]
    form = VoiceConfigAdminForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    readonly_fields = ["week", "created_at", "updated_at"]
    inlines = [BusinessHoursInline, HolidayInline, IvrOptionInline]
    fieldsets = [
        (None, {"fields": ["name"]}),
        ("Greeting", {"fields": ["greeting_text", "greeting_audio_url", "voice", "language"]}),
        ("IVR menu", {"fields": ["ivr_prompt", "ivr_max_attempts", "ivr_timeout_seconds"]}),
        (
            "Business hours",
            {
                "fields": ["time_zone", "week", "after_hours_action", "after_hours_message", "after_hours_forward_to"],
                "description": "The weekly opening ranges and the holidays are edited in the tables that follow.",
            },
        ),
        (
            "Queue and agents",
            {
                "fields": [
                    "hold_music_url",
                    "ring_timeout_seconds",
                    "max_queue_wait_seconds",
                    "unavailable_message",
                    "wrap_up_seconds",
                ]
            },
        ),
        (
            "Outbound calls and callbacks",
            {
                "fields": [
                    "outbound_country_codes",
                    "outbound_denied_prefixes",
                    "outbound_calls_per_agent_hour",
                    "callback_offer_after_seconds",
                    "callback_max_attempts",
                    "callback_retry_seconds",
                ]
            },
        ),
        (
            "Voicemail and recording",
            {
                "fields": [
                    "voicemail_enabled",
                    "voicemail_prompt",
                    "voicemail_max_seconds",
                    "recording_policy",
                    "recording_consent_text",
                    "recording_consent_audio_url",
                    "recording_retention_days",
                ]
            },
        ),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]

    class Media:
        css = {"all": ["voice/admin.css"]}
        js = ["voice/config_form.js"]

    @admin.display(description="Week at a glance")
    def week(self, config: VoiceConfig):
        return week_at_a_glance(config)


@admin.register(PhoneLine)
class PhoneLineAdmin(LineProvisioningAdmin):
    list_display = ["name", "phone_number", "config", "enabled", "agent_count", "twilio_sid", "twilio_state"]
    list_filter = ["enabled", "config"]
    search_fields = ["name", "phone_number", "twilio_sid"]
    list_select_related = ["config"]
    form = PhoneLineAdminForm
    filter_horizontal = ["agents"]
    readonly_fields = ["twilio_state", "created_at", "updated_at"]
    actions = ["enable_lines", "disable_lines", "release_numbers"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("agents")

    @admin.display(description="Agents")
    def agent_count(self, line: PhoneLine) -> str:
        count = len(line.agents.all())
        return str(count) if count else "all agents"

    @admin.action(description="Enable the selected lines")
    def enable_lines(self, request, queryset: QuerySet) -> None:
        queryset = self.attach_before_enabling(request, queryset)
        updated = queryset.update(enabled=True)
        self.message_user(request, f"{updated} line(s) enabled.", messages.SUCCESS)

    @admin.action(description="Disable the selected lines")
    def disable_lines(self, request, queryset: QuerySet) -> None:
        updated = queryset.update(enabled=False)
        self.message_user(
            request, f"{updated} line(s) disabled: callers hear the line is not in service.", messages.SUCCESS
        )


@admin.register(VoiceAgent)
class VoiceAgentAdmin(admin.ModelAdmin):
    list_display = ["__str__", "identity", "user", "status", "last_heartbeat_at", "last_call_ended_at"]
    list_filter = ["status"]
    search_fields = ["identity", "display_name", "user__username", "user__email"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    readonly_fields = ["status_changed_at", "last_heartbeat_at", "last_call_ended_at", "wrap_up_until", "created_at"]
    actions = ["set_unavailable", "set_offline"]
    add_fieldsets = [
        ("The agent's login", {"fields": ["username", "password"]}),
        ("…or an existing user", {"fields": ["user"]}),
        ("Agent", {"fields": ["display_name", "identity"]}),
    ]

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = VoiceAgentAddForm
        return super().get_form(request, obj, **kwargs)

    def save_model(self, request, obj: VoiceAgent, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        data = form.cleaned_data
        user = data.get("user")
        if user is None:
            user = get_user_model().objects.create_user(username=data["username"], password=data["password"])
        agent = services.agent_create(
            user=user, identity=data.get("identity") or None, display_name=data.get("display_name") or ""
        )
        # The admin goes on with `obj` (history entry, redirect): make it the agent just created.
        obj.__dict__.update({key: value for key, value in agent.__dict__.items() if key != "_state"})
        obj._state.adding = False

    def has_delete_permission(self, request, obj=None) -> bool:
        # An agent on a live call stays until the call ends, as over REST (409): never orphan a live call.
        if obj is not None and call_services.agent_active_call(agent=obj) is not None:
            return False
        return super().has_delete_permission(request, obj)

    def delete_queryset(self, request, queryset: QuerySet) -> None:
        busy = queryset.filter(calls__in=Call.objects.active()).distinct()
        if busy.exists():
            names = ", ".join(str(agent) for agent in busy)
            self.message_user(request, f"Kept {names}: on a live call. Delete them once it ends.", messages.WARNING)
        super().delete_queryset(request, queryset.exclude(pk__in=busy.values("pk")))

    @admin.action(description="Set the selected agents unavailable")
    def set_unavailable(self, request, queryset: QuerySet) -> None:
        self._set_status(request, queryset, AgentStatus.UNAVAILABLE)

    @admin.action(description="Set the selected agents offline")
    def set_offline(self, request, queryset: QuerySet) -> None:
        self._set_status(request, queryset, AgentStatus.OFFLINE)

    def _set_status(self, request, queryset: QuerySet, status: str) -> None:
        # Agents on a call keep their busy state; they pick a status again when the call ends.
        idle = list(queryset.filter(status__in=[AgentStatus.AVAILABLE, AgentStatus.UNAVAILABLE, AgentStatus.OFFLINE]))
        for agent in idle:
            call_services.agent_set_status(agent=agent, status=status)
        changed = len(idle)
        skipped = queryset.count() - changed
        note = f" {skipped} agent(s) on a call were left as they are." if skipped else ""
        self.message_user(request, f"{changed} agent(s) set {status}.{note}", messages.SUCCESS)


# The call page groups its fields; any field not named here (a newer one) lands in "More details".
CALL_FIELD_GROUPS: list[tuple[str | None, list[str], list[str]]] = [
    (None, ["from_number", "phone_line", "direction", "agent", "state"], []),
    ("Timeline", ["timeline"], []),
    ("Durations", ["wait", "talk", "hold", "started_at", "queued_at", "answered_at", "ended_at"], []),
    ("Transfers", ["transfers"], []),
    ("IVR and recording", ["ivr_choice", "ivr_attempts", "recording", "voicemail"], []),
    (
        "Twilio details",
        [
            "call_sid",
            "status",
            "stage",
            "to_number",
            "conference_name",
            "conference_sid",
            "agent_call_sid",
            "recording_sid",
            "recording_url",
            "recording_duration",
            "last_sequence_number",
            "requeued_at",
            "on_hold",
            "hold_started_at",
            "wait_seconds",
            "talk_seconds",
            "hold_seconds",
            "created_at",
            "updated_at",
        ],
        ["collapse"],
    ),
]


class RecordAdmin(admin.ModelAdmin):
    """A record of what Twilio told us: read by staff, never added or changed; only a superuser deletes one.

    With no change permission Django renders every field read-only ("View call"), whatever the field list.
    """

    def has_add_permission(self, request) -> bool:
        # Rows are created by the platform from Twilio's requests; one made by hand would be a fabricated call.
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deleting erases history (a data-protection request, test data): superusers only.
        return request.user.is_superuser


@admin.register(Call)
class CallAdmin(RecordAdmin):
    # Seven narrow columns: the list fits a 1366 px screen beside its filters, with no horizontal scrolling.
    list_display = ["time", "caller", "line", "agent_name", "state", "wait", "talk"]
    list_display_links = ["time"]
    # No bulk actions, so no checkbox column: calls are deleted one by one, by a superuser, from the call page.
    actions = None
    list_filter = ["status", "stage", "direction", "voicemail", "phone_line", "agent"]
    search_fields = ["call_sid", "from_number", "to_number"]
    search_help_text = "Search by caller number, dialled number or call SID."
    list_select_related = ["phone_line", "agent"]
    date_hierarchy = "created_at"
    readonly_fields = ["timeline", "state", "wait", "talk", "hold", "recording", "transfers"]

    class Media:
        css = {"all": ["voice/admin.css"]}
        js = ["voice/live_durations.js"]

    def get_fields(self, request, obj=None):
        names = [field.name for field in Call._meta.concrete_fields if field.name != "id"]
        extra = [name for name in self.readonly_fields if name != "transfers" or self._has_transfers()]
        return [*names, *extra]

    @staticmethod
    def _has_transfers() -> bool:
        # Transfers become rows (issue 11); until that model exists the call page has no Transfers section.
        return any(rel.get_accessor_name() == "transfers" for rel in Call._meta.related_objects)

    def get_fieldsets(self, request, obj=None):
        fields = list(self.get_fields(request, obj))
        fieldsets = []
        for title, names, classes in CALL_FIELD_GROUPS:
            present = [name for name in names if name in fields]
            if present:
                fieldsets.append((title, {"fields": present, "classes": classes}))
        named = {name for _, names, _ in CALL_FIELD_GROUPS for name in names}
        rest = [name for name in fields if name not in named]
        if rest:
            fieldsets.append(("More details", {"fields": rest, "classes": ["collapse"]}))
        return fieldsets

    def get_deleted_objects(self, objs, request):
        # A call's timeline goes with it: the call logs' own "no delete" (one event is never taken out of a
        # timeline) must not block a superuser deleting the whole call.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        if request.user.is_superuser:
            perms_needed = set()
        return deleted, counts, perms_needed, protected

    @admin.display(description="Time", ordering="created_at")
    def time(self, call: Call) -> str:
        moment = timezone.localtime(call.started_at or call.created_at)
        return f"{moment:%H:%M}" if moment.date() == timezone.localdate() else f"{moment:%d %b %H:%M}"

    @admin.display(description="Caller", ordering="from_number")
    def caller(self, call: Call) -> str:
        return call.from_number or "–"

    @admin.display(description="Line", ordering="phone_line__name")
    def line(self, call: Call):
        if call.phone_line is None:
            return call.to_number or "–"
        return format_html('<span title="{}">{}</span>', call.phone_line.phone_number, call.phone_line.name)

    @admin.display(description="Agent", ordering="agent")
    def agent_name(self, call: Call) -> str:
        return str(call.agent) if call.agent else "–"

    @admin.display(description="Status", ordering="status")
    def state(self, call: Call):
        return call_state(call)

    @admin.display(description="Wait", ordering="wait_seconds")
    def wait(self, call: Call):
        return call_wait(call)

    @admin.display(description="Talk", ordering="talk_seconds")
    def talk(self, call: Call):
        return call_talk(call)

    @admin.display(description="On hold")
    def hold(self, call: Call):
        return call_hold(call)

    @admin.display(description="Timeline")
    def timeline(self, call: Call):
        return call_timeline(call)

    @admin.display(description="Recording")
    def recording(self, call: Call):
        return call_recording(call)

    @admin.display(description="Transfers")
    def transfers(self, call: Call):
        return call_transfers(call)


@admin.register(CallLog)
class CallLogAdmin(RecordAdmin):
    list_display = ["created_at", "call_link", "event", "call_status", "short_message"]
    list_filter = ["event"]
    search_fields = ["call_sid", "message"]
    list_select_related = ["call"]

    def has_delete_permission(self, request, obj=None) -> bool:
        # One event is never taken out of a timeline, as over REST; a superuser deleting the call removes them all.
        return False

    @admin.display(description="Call", ordering="call_sid")
    def call_link(self, log: CallLog):
        if log.call_id is None:
            return log.call_sid or "–"
        url = reverse("admin:voiceconfig_call_change", args=[log.call_id])
        return format_html('<a href="{}">{}</a>', url, log.call_sid)

    @admin.display(description="Message")
    def short_message(self, log: CallLog) -> str:
        return Truncator(log.message).chars(80)


# --- Two-factor login: staff unlock accounts, reset 2FA and revoke trusted browsers --------------------------------


@admin.register(TwoFactorDevice)
class TwoFactorDeviceAdmin(admin.ModelAdmin):
    list_display = ["user", "enabled", "required", "locked", "failed_attempts", "backup_codes_left", "confirmed_at"]
    list_filter = ["enabled", "required", ("locked_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username", "user__email", "user__first_name", "user__last_name"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    # The secret is never shown: whoever sees it can produce codes.
    fields = ["user", "required", "enabled", "confirmed_at", "failed_attempts", "locked_at", "created_at", "updated_at"]
    readonly_fields = ["enabled", "confirmed_at", "failed_attempts", "locked_at", "created_at", "updated_at"]
    actions = ["unlock", "reset", "require", "stop_requiring"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "user"] if obj is not None else self.readonly_fields

    @admin.display(boolean=True, description="Locked", ordering="locked_at")
    def locked(self, device: TwoFactorDevice) -> bool:
        return device.is_locked

    def get_queryset(self, request):
        # Counted in the list's own query: one COUNT per row made the page one query per account.
        unused = models.Count("backup_codes", filter=models.Q(backup_codes__used_at__isnull=True))
        return super().get_queryset(request).annotate(unused_backup_codes=unused)

    @admin.display(description="Backup codes left")
    def backup_codes_left(self, device: TwoFactorDevice) -> int:
        return device.unused_backup_codes

    @admin.action(description="Unlock: allow codes again and restart the failure count")
    def unlock(self, request, queryset: QuerySet) -> None:
        devices = list(queryset)
        for device in devices:
            twofactor.two_factor_unlock(device=device)
        self.message_user(request, f"{len(devices)} account(s) unlocked.", messages.SUCCESS)

    @admin.action(description="Reset 2FA: forget the secret, backup codes and trusted browsers")
    def reset(self, request, queryset: QuerySet) -> None:
        devices = list(queryset)
        for device in devices:
            twofactor.two_factor_reset(device=device)
        self.message_user(
            request,
            f"{len(devices)} reset. Where 2FA is required, the next login sets it up again; otherwise the "
            "agent logs in with the password alone until they enrol again.",
            messages.SUCCESS,
        )

    @admin.action(description="Require 2FA (set it up at the next login if it is off)")
    def require(self, request, queryset: QuerySet) -> None:
        updated = queryset.update(required=True)
        self.message_user(request, f"2FA required for {updated} account(s).", messages.SUCCESS)

    @admin.action(description="Stop requiring 2FA (it stays on where the agent turned it on)")
    def stop_requiring(self, request, queryset: QuerySet) -> None:
        updated = queryset.update(required=False)
        self.message_user(request, f"2FA no longer required for {updated} account(s).", messages.SUCCESS)


@admin.register(TrustedDevice)
class TrustedDeviceAdmin(admin.ModelAdmin):
    list_display = ["user", "user_agent", "created_at", "expires_at", "last_used_at", "valid"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username", "user_agent"]
    list_select_related = ["user"]
    fields = ["user", "user_agent", "created_at", "expires_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(boolean=True, description="Valid")
    def valid(self, device: TrustedDevice) -> bool:
        return (
            device.revoked_at is None
            and device.expires_at > timezone.now()
            and device.password_fingerprint == twofactor.password_fingerprint(device.user)
        )

    @admin.action(description="Revoke: the browser must enter a code at its next login")
    def revoke(self, request, queryset: QuerySet) -> None:
        updated = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"{updated} trusted browser(s) revoked.", messages.SUCCESS)


@admin.register(PreLoginAttempt)
class PreLoginAttemptAdmin(admin.ModelAdmin):
    """Read-only trail of recent two-factor logins (kept a day): who tried, how many wrong codes."""

    list_display = ["user", "created_at", "expires_at", "failures", "completed_at"]
    list_filter = [("completed_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username", "jti"]
    list_select_related = ["user"]
    readonly_fields = ["jti", "user", "failures", "created_at", "expires_at", "completed_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Callback)
class CallbackAdmin(RecordAdmin):
    """Queued callbacks (issue 19): written by the call flow, read here; filter by state to see what is due."""

    list_display = ["customer_number", "state", "queued_at", "attempts", "next_attempt_at", "agent", "phone_line"]
    list_filter = ["state", "phone_line"]
    search_fields = ["customer_number", "call__call_sid"]
    list_select_related = ["agent", "phone_line"]
    actions = None


# Issue 16: departments have their own admin module.
from . import admin_departments  # noqa: E402, F401
