"""The statistics endpoints (issue 17, docs/statistics.md): staff only, JSON or `?format=csv`."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone
from djangorestframework_camel_case.render import CamelCaseJSONRenderer
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from ..models import Department
from ..stats import zones
from ..stats.live import live
from ..stats.summary import GROUP_BY, MAX_DAYS, SummaryQuery, summary
from ..validators import validate_time_zone
from .permissions import IsStaff
from .stats_csv import StatsCSVRenderer


class LiveQuery(serializers.Serializer):
    department = serializers.PrimaryKeyRelatedField(
        queryset=Department.objects.all(), required=False, help_text="Only this department's row (the total stays)"
    )


class SummaryQuerySerializer(serializers.Serializer):
    """The summary's query parameters. `from` is a Python keyword, so it is added in get_fields."""

    to = serializers.DateField(required=False, help_text="Last local day, inclusive (default: today)")
    groupBy = serializers.ChoiceField(choices=GROUP_BY, default="day")
    tz = serializers.CharField(
        required=False, validators=[validate_time_zone], help_text="IANA zone; default the department's or config's"
    )
    department = serializers.PrimaryKeyRelatedField(queryset=Department.objects.all(), required=False)
    serviceLevelSeconds = serializers.IntegerField(default=20, min_value=0, max_value=3600)
    shortAbandonSeconds = serializers.IntegerField(default=5, min_value=0, max_value=3600)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateField(required=False, help_text="First local day (default: to - 6 days)")
        return fields

    def validate(self, attrs):
        zone = zones.zone_of(tz=attrs.get("tz"), department=attrs.get("department"))
        end = attrs.get("to") or zones.today(ZoneInfo(zone), timezone.now())
        start = attrs.get("from") or end - timedelta(days=6)
        if start > end:
            raise serializers.ValidationError({"from": ["Must not be after `to`."]})
        if (end - start).days + 1 > MAX_DAYS:
            raise serializers.ValidationError({"to": [f"The range may cover at most {MAX_DAYS} days."]})
        return SummaryQuery(
            start_day=start,
            end_day=end,
            group_by=attrs["groupBy"],
            time_zone=zone,
            department=attrs.get("department"),
            service_level_seconds=attrs["serviceLevelSeconds"],
            short_abandon_seconds=attrs["shortAbandonSeconds"],
        )


def _figure_fields(*, per_agent_help: str) -> dict:
    count = {"min_value": 0}
    return {
        "offered": serializers.IntegerField(**count),
        "answered": serializers.IntegerField(**count),
        "abandoned": serializers.IntegerField(**count),
        "short_abandoned": serializers.IntegerField(**count),
        "voicemail": serializers.IntegerField(**count),
        "after_hours": serializers.IntegerField(**count),
        "transferred": serializers.IntegerField(**count),
        "service_level": serializers.FloatField(allow_null=True, help_text="0..1, 4 decimals; null: nothing offered"),
        "average_speed_of_answer": serializers.FloatField(allow_null=True, help_text="Seconds, 1 decimal"),
        "average_handle_time": serializers.FloatField(allow_null=True, help_text="Seconds: talk + hold + wrap-up"),
        "average_talk_seconds": serializers.FloatField(allow_null=True),
        "average_hold_seconds": serializers.FloatField(allow_null=True),
        "longest_wait_seconds": serializers.IntegerField(allow_null=True),
        "missed": serializers.IntegerField(allow_null=True, help_text=per_agent_help),
        "occupancy": serializers.FloatField(allow_null=True, help_text=per_agent_help),
    }


SummaryRowSerializer = type(
    "SummaryRowSerializer",
    (serializers.Serializer,),
    {
        "key": serializers.CharField(allow_null=True, help_text="Day, local hour with offset, or the entity's id"),
        "label": serializers.CharField(),
        **_figure_fields(per_agent_help="Only for groupBy=agent, else null"),
    },
)


class SummarySerializer(serializers.Serializer):
    from_ = serializers.DateField()
    to = serializers.DateField()
    group_by = serializers.ChoiceField(choices=GROUP_BY)
    time_zone = serializers.CharField()
    service_level_seconds = serializers.IntegerField()
    short_abandon_seconds = serializers.IntegerField()
    rows = SummaryRowSerializer(many=True)
    total = SummaryRowSerializer()

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class LiveRowSerializer(serializers.Serializer):
    department = serializers.IntegerField(allow_null=True, help_text="null in the total")
    name = serializers.CharField()
    callers_waiting = serializers.IntegerField()
    longest_wait_seconds = serializers.IntegerField(allow_null=True)
    callbacks_waiting = serializers.IntegerField()
    agents_available = serializers.IntegerField()
    agents_ringing = serializers.IntegerField()
    agents_on_call = serializers.IntegerField()
    agents_wrap_up = serializers.IntegerField()
    agents_unavailable = serializers.IntegerField()
    agents_offline = serializers.IntegerField()
    offered_today = serializers.IntegerField()
    answered_today = serializers.IntegerField()
    service_level_today = serializers.FloatField(allow_null=True)


class LiveSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    time_zone = serializers.CharField()
    service_level_seconds = serializers.IntegerField()
    departments = LiveRowSerializer(many=True)
    total = LiveRowSerializer()


CSV_RESPONSE = OpenApiResponse(OpenApiTypes.STR, description="With ?format=csv: the rows, then the total, as CSV")


class StatsView(APIView):
    permission_classes = [IsStaff]
    renderer_classes = [CamelCaseJSONRenderer, StatsCSVRenderer]
    # Bad query parameters (an unknown department, a time zone, a date range) are a 400 envelope.
    schema_error_codes_extra = {"400"}

    def finalize_response(self, request, response, *args, **kwargs):
        # Errors are the JSON envelope, whatever format was asked for.
        if getattr(response, "exception", False):
            request.accepted_renderer, request.accepted_media_type = CamelCaseJSONRenderer(), "application/json"
        return super().finalize_response(request, response, *args, **kwargs)

    @staticmethod
    def query(serializer_class, request):
        params = {key: value for key, value in request.query_params.items() if key != "format"}
        serializer = serializer_class(data=params)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class LiveStatsView(StatsView):
    @extend_schema(
        operation_id="stats_live",
        parameters=[LiveQuery],
        responses={(200, "application/json"): LiveSerializer, (200, "text/csv"): CSV_RESPONSE},
    )
    def get(self, request):
        """The floor now: per department and in total, callers waiting, agents by status, today's service level."""
        department = self.query(LiveQuery, request).get("department")
        return Response(live(department_id=department.pk if department else None))


class SummaryStatsView(StatsView):
    @extend_schema(
        operation_id="stats_summary",
        parameters=[SummaryQuerySerializer],
        responses={(200, "application/json"): SummarySerializer, (200, "text/csv"): CSV_RESPONSE},
    )
    def get(self, request):
        """Historical figures of the calls started in a range of local days, grouped by day, hour, department,
        agent or line (docs/statistics.md defines each figure)."""
        return Response(summary(self.query(SummaryQuerySerializer, request)))
