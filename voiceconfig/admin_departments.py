"""Departments in the admin (issue 16): members (agent, level, order) edited inline, with the config form's care:
a forward needs a number, an agent is listed once, a department cannot overflow to itself."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from .models import Department, DepartmentMember, NoAgentsAction


class DepartmentAdminForm(forms.ModelForm):
    hold_music_url = forms.URLField(label="Hold music URL", required=False, assume_scheme="https")

    class Meta:
        model = Department
        fields = [
            "name",
            "strategy",
            "time_zone",
            "max_wait_seconds",
            "max_callers",
            "announce_position",
            "hold_music_url",
            "widen_after_seconds",
            "overflow_department",
            "overflow_after_seconds",
            "no_agents_action",
            "no_agents_message",
            "no_agents_forward_to",
        ]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("no_agents_action") == NoAgentsAction.FORWARD and not cleaned.get("no_agents_forward_to"):
            self.add_error("no_agents_forward_to", "Forwarding needs a number to forward to.")
        overflow = cleaned.get("overflow_department")
        if overflow is not None and self.instance.pk and overflow.pk == self.instance.pk:
            self.add_error("overflow_department", "A department cannot overflow to itself.")
        return cleaned


class MemberFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        seen = set()
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or form.cleaned_data.get("DELETE"):
                continue
            agent = form.cleaned_data.get("agent")
            if agent is None:
                continue
            if agent.pk in seen:
                raise ValidationError(f"{agent} is listed twice: each agent may be a member once.")
            seen.add(agent.pk)


class DepartmentMemberInline(admin.TabularInline):
    model = DepartmentMember
    formset = MemberFormSet
    fields = ["agent", "level", "position"]
    extra = 0
    autocomplete_fields = ["agent"]
    verbose_name = "member"
    verbose_name_plural = "Members (level 1 is offered calls first; position is the listed order)"


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    form = DepartmentAdminForm
    inlines = [DepartmentMemberInline]
    list_display = ["name", "strategy", "member_count", "no_agents_action", "overflow_department"]
    list_filter = ["strategy", "no_agents_action"]
    search_fields = ["name"]
    list_select_related = ["overflow_department"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "strategy", "time_zone"]}),
        ("Waiting", {"fields": ["max_wait_seconds", "max_callers", "announce_position", "hold_music_url"]}),
        ("Levels and overflow", {"fields": ["widen_after_seconds", "overflow_department", "overflow_after_seconds"]}),
        ("Nobody logged in", {"fields": ["no_agents_action", "no_agents_message", "no_agents_forward_to"]}),
        ("Record", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("members")

    @admin.display(description="Members")
    def member_count(self, department: Department) -> int:
        return len(department.members.all())
