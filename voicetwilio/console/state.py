"""What the agent console shows about the agent's own call, carried by every heartbeat answer.

The softphone learns of a call from Twilio (the SDK's `incoming` event), but Twilio may be out of reach while our
server is not: the heartbeat answer therefore says which call is ringing the agent or connected to them, so the
console's call card shows the truth within one poll, whatever the SDK knows. `answeredAt` and `serverTime` let
the page count the talk time from the answer by the server's clock, not from when the page heard of the call.
"""

from django.utils import timezone
from rest_framework import serializers

from voiceconfig import calls as call_services
from voiceconfig.models import AgentStatus, Call, CallStage, VoiceAgent

from .serializers import AgentStatusResultSerializer


class CallState:
    RINGING = "ringing"
    CONNECTED = "connected"
    CHOICES = [
        (RINGING, "Offered to the agent, whose softphone rings; not answered yet"),
        (CONNECTED, "The agent answered and is talking to the caller (or holding them)"),
    ]


class AgentCallSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Our call id (use it with /voicetwilio/calls/{id}:onhold etc.).")
    call_sid = serializers.CharField(help_text="The caller's Twilio CallSid.")
    from_ = serializers.CharField(help_text="The caller's number as Twilio gave it.")
    to = serializers.CharField(help_text="The number the caller dialled (our line).")
    line_name = serializers.CharField(allow_null=True, help_text="The name of the line called, when it is known.")
    state = serializers.ChoiceField(choices=CallState.CHOICES)
    answered_at = serializers.DateTimeField(
        allow_null=True, help_text="When an agent first answered the call: the talk time counts from here."
    )
    on_hold = serializers.BooleanField()
    recording = serializers.CharField(
        allow_null=True,
        help_text="The call's recording now: requested, in-progress or paused; null when it is not being recorded.",
    )
    supervisors = serializers.ListField(
        child=serializers.DictField(),
        help_text="Who is supervising the call now: [{supervisor, identity, mode (listen, whisper, barge), state}]. "
        "The agent always knows who is listening.",
    )

    def get_fields(self):
        # `from` is a Python keyword: the attribute is from_, the JSON key `from`.
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class HeartbeatResultSerializer(AgentStatusResultSerializer):
    call = AgentCallSerializer(
        allow_null=True,
        help_text="The call ringing this agent or connected to them, null when there is none. Present even when "
        "the softphone never heard of the call (Twilio out of reach from the browser).",
    )
    server_time = serializers.DateTimeField(
        help_text="The server's clock when it answered: the page measures its own clock's offset with it, so the "
        "call timer counts from answeredAt by the server's clock."
    )


def agent_call(agent: VoiceAgent) -> dict | None:
    """The agent's live call as the console shows it, or None."""
    call = Call.objects.active().filter(agent=agent).select_related("phone_line").first()
    # A ring-all department rings its members before the call has an agent: show the caller ringing them too.
    call = call or call_services.ringing_offer_call(agent=agent)
    if call is None:
        return None
    # Ringing until the agent's leg is answered: the agent's status says so (a call transferred to this agent
    # was answered before, by someone else), and so does a call no agent has answered yet.
    ringing = agent.status == AgentStatus.RINGING or (call.stage != CallStage.CONNECTED and call.answered_at is None)
    return {
        "id": call.pk,
        "call_sid": call.call_sid,
        "from": call.from_number,
        "to": call.to_number,
        "line_name": call.phone_line.name if call.phone_line else None,
        "state": CallState.RINGING if ringing else CallState.CONNECTED,
        "answered_at": None if ringing else call.answered_at,
        "on_hold": call.on_hold,
        **recording_and_supervisors(call),
    }


def recording_and_supervisors(call: Call) -> dict:
    """What the agent is told about their call's recording and supervisors (issue 18)."""
    active = call_services.active_recording(call_id=call.pk)
    watching = [
        {"supervisor": row.supervisor.get_username(), "identity": row.identity, "mode": row.mode, "state": row.state}
        for row in call_services.live_supervisions(call_id=call.pk)
    ]
    return {"recording": active.state if active else None, "supervisors": watching}


def heartbeat_answer(presence: dict, agent: VoiceAgent) -> dict:
    """The heartbeat view's answer: the agent's presence plus their call and the server's clock."""
    return HeartbeatResultSerializer({**presence, "call": agent_call(agent), "server_time": timezone.now()}).data
