"""The phone-line admin's Twilio side (issue 15): each line's Twilio state, buying a number, releasing one.

Mixed into PhoneLineAdmin. Twilio is reached through voiceconfig.line_numbers (voicetwilio fills it in), never
inside a database transaction: the change form runs without the admin's usual atomic block (the form's clean
asks Twilio) and saves the line and its agents in a transaction of their own.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from . import services
from .line_numbers import LineState, NumberRefused, provisioner, provisioning_on
from .models import PhoneLine
from .validators import normalize_e164

OFF = LineState("off", "Not checked", "TWILIO_PROVISIONING is off: Twilio's console is in charge of the numbers.")


def upstream_failure(exc: Exception) -> bool:
    """A Twilio failure as the gateway reports it (it declares the API status it maps to); voiceconfig cannot
    import voicetwilio's error class, so it recognises it by that attribute, as the REST error handler does."""
    return hasattr(exc, "api_status")


class LineProvisioningAdmin(admin.ModelAdmin):
    # --- state ---------------------------------------------------------------------------------
    def get_changelist_instance(self, request: HttpRequest):
        """Every line on the page gets its state from one listing of the account's numbers."""
        changelist = super().get_changelist_instance(request)
        lines = list(changelist.result_list)
        states = provisioner().states(lines) if provisioning_on() and lines else {}
        for line in lines:
            line.twilio_state_found = states.get(line.pk, OFF)
        return changelist

    @admin.display(description="Twilio")
    def twilio_state(self, line: PhoneLine) -> str:
        state = getattr(line, "twilio_state_found", None)
        if state is None and not line.pk:
            return "Checked when the line is saved."
        if state is None:
            # The change page: this one line, with the reason spelled out.
            state = provisioner().states([line])[line.pk] if provisioning_on() and line.pk else OFF
            return format_html('<span class="voice-twilio-{}">{}</span> {}', state.code, state.label, state.detail)
        return format_html('<span class="voice-twilio-{}" title="{}">{}</span>', state.code, state.detail, state.label)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        buy_url = reverse("admin:voiceconfig_phoneline_buy") if self.can_buy(request) else ""

        class LineForm(form):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                # Per form instance (its fields are copies): the number picker offers "Buy…" to who may buy.
                if "phone_number" in self.fields:
                    self.fields["phone_number"].widget.buy_url = buy_url

        return LineForm

    # --- saving: Twilio first, then one transaction ------------------------------------------------------
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Not super(): ModelAdmin.changeform_view wraps everything, form validation included, in atomic().
        return self._changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            form.save_m2m()

    def save_related(self, request, form, formsets, change) -> None:
        for formset in formsets:  # the line's agents were saved with it in save_model
            self.save_formset(request, form, formset, change=change)

    def attach_before_enabling(self, request: HttpRequest, queryset):
        """Enabling is saving an enabled line: each number is pointed at us first (no transaction open); a line
        whose number cannot be stays as it was, with the reason. Returns the lines that may be enabled."""
        if not provisioning_on():
            return queryset
        ready = []
        for line in queryset.order_by("id"):
            try:
                line.enabled = True  # what the number must carry once the line is enabled
                sid = provisioner().attach(phone_number=line.phone_number, line=line)
            except NumberRefused as exc:
                self.message_user(request, f"{line} was not enabled: {exc}", messages.ERROR)
                continue
            except Exception as exc:
                if not upstream_failure(exc):
                    raise
                self.message_user(request, f"{line} was not enabled: {getattr(exc, 'message', exc)}", messages.ERROR)
                continue
            services.line_record_twilio_sid(line_id=line.pk, sid=sid)
            ready.append(line.pk)
        return queryset.filter(pk__in=ready)

    # --- buying ----------------------------------------------------------------------------------
    def get_urls(self):
        buy = path("buy/", self.admin_site.admin_view(self.buy_number_view), name="voiceconfig_phoneline_buy")
        return [buy, *super().get_urls()]

    def can_buy(self, request: HttpRequest) -> bool:
        return provisioning_on() and request.user.has_perm("voiceconfig.buy_phone_number")

    def buy_number_view(self, request: HttpRequest) -> HttpResponse:
        """GET shows what buying costs and does; POST buys the number and opens a new line with it."""
        if not self.can_buy(request):
            raise PermissionDenied
        raw = request.POST.get("number") or request.GET.get("number") or ""
        try:
            number = normalize_e164(raw)
        except ValidationError:
            number = ""
        if not number:
            self.message_user(request, f"{raw or 'No number'} is not a phone number to buy.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:voiceconfig_phoneline_add"))
        if request.method == "POST":
            try:
                sid = provisioner().buy(phone_number=number)
            except Exception as exc:
                if not upstream_failure(exc):
                    raise
                self.message_user(request, f"{number} was not bought: {getattr(exc, 'message', exc)}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"{number} is now on the Twilio account ({sid}) and sends its calls here. Name the line and save.",
                    messages.SUCCESS,
                )
                query = urlencode({"phone_number": number, "name": number})
                return HttpResponseRedirect(reverse("admin:voiceconfig_phoneline_add") + "?" + query)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Buy {number}?",
            "number": number,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/voiceconfig/phoneline/buy_confirm.html", context)

    # --- releasing ---------------------------------------------------------------------------------
    def has_release_phone_number_permission(self, request: HttpRequest) -> bool:
        return provisioning_on() and request.user.has_perm("voiceconfig.release_phone_number")

    @admin.action(
        description="Release the selected lines' numbers from the Twilio account…", permissions=["release_phone_number"]
    )
    def release_numbers(self, request: HttpRequest, queryset):
        """Its own confirmed step: disabling a line never releases its number."""
        lines = list(queryset.order_by("id"))
        if request.POST.get("confirm") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Release these numbers?",
                "lines": lines,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/voiceconfig/phoneline/release_confirm.html", context)
        released = []
        for line in lines:
            if not line.twilio_sid:
                self.message_user(
                    request, f"{line}: no Twilio number SID on the line; nothing released.", messages.WARNING
                )
                continue
            try:
                provisioner().release(sid=line.twilio_sid)
            except Exception as exc:
                if not upstream_failure(exc):
                    raise
                self.message_user(request, f"{line}: not released: {getattr(exc, 'message', exc)}", messages.ERROR)
                continue
            services.line_number_released(line_id=line.pk)
            released.append(line.phone_number)
        if released:
            self.message_user(
                request,
                f"Released {', '.join(released)} from the Twilio account; the line(s) are disabled.",
                messages.SUCCESS,
            )
        return None
