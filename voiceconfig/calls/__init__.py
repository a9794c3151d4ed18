"""The call domain's one owner: every write and row lock on calls, call logs, transfers and agent availability.

voicetwilio validates a request, asks these services to decide (they commit), talks to Twilio with no lock held,
then asks them to record the outcome. Modules, by concern (docs/architecture.md):

    log           one CallLog row per distinct event
    stage         our flow's forward-only stage machine (the transition table), and a call's birth
    status        Twilio's forward-only status machine (status callbacks, and CallStatus on other webhooks)
    availability  the one "agents who can take a call now" rule
    queue         callers waiting for an agent
    reservation   reserving and releasing agents for waiting callers
    legs          events of the legs we add to a call's conference
    conference    conference and recording events
    control       hold and resume
    hangup        a call hung up from the console
    transfers     transfers as rows
    wrapup        the one wrap-up
    presence      agent status and heartbeats
    timing        durations from stored facts
    backfill      a finished call that staff record after the fact
    recordings    recordings as rows: policy, agent controls, status callbacks, retention
    supervision   supervisors listening, whispering and barging
    stats_facts   the statistics' facts of a call, stored as it ends (issue 17)
"""

from .announcements import announcement_text, call_claim_announcement, queue_place
from .availability import anyone_available, available_agents, heartbeat_cutoff, is_free, is_online
from .backfill import call_backfill
from .conference import call_apply_conference_event, call_store_recording
from .control import HoldOutcome, call_record_hold, call_record_resume, held_seconds
from .department_limits import FULL, NOBODY, call_turn_away, department_turns_away
from .department_transfer import department_named, department_transfer_record, department_transfer_request
from .hangup import HangupOutcome, call_record_hang_up
from .legs import LegResult, call_apply_leg_event
from .log import call_log_add, call_log_note
from .presence import agent_active_call, agent_choose_status, agent_record_heartbeat, agent_set_status
from .queue import (
    call_back_to_queue,
    call_choose_and_enqueue,
    call_enqueue,
    call_leave_queue,
    is_talking,
    waiting_calls,
)
from .recordings import (
    RecordingOutcome,
    active_recording,
    recording_for_action,
    recording_forget,
    recording_policy_for,
    recording_record_action,
    recording_record_failed,
    recording_record_started,
    recording_request_start,
    recordings_past_retention,
)
from .reservation import Match, call_attach_agent_leg, call_match_agent, call_offer_to_agent, call_release_agent
from .ringall import ring_offers_record, ringing_offer_call
from .stage import StageEvent, call_count_ivr_prompt, call_move_stage, call_start, conference_name_for, next_stage
from .stats_facts import call_note_after_hours
from .status import UNANSWERED, StatusResult, call_apply_status, call_note_status, is_terminal
from .supervision import (
    SupervisionTicket,
    live_supervisions,
    supervision_record_failed,
    supervision_record_joined,
    supervision_record_left,
    supervision_record_mode,
    supervision_request,
)
from .transfers import (
    TransferTicket,
    Unanswered,
    agent_leave_call,
    transfer_decide_unanswered,
    transfer_record_failed,
    transfer_record_started,
    transfer_request,
    transfer_summary,
    warm_transferrer_of,
)

__all__ = [
    "HangupOutcome",
    "RecordingOutcome",
    "SupervisionTicket",
    "active_recording",
    "live_supervisions",
    "recording_for_action",
    "recording_forget",
    "recording_policy_for",
    "recording_record_action",
    "recording_record_failed",
    "recording_record_started",
    "recording_request_start",
    "recordings_past_retention",
    "supervision_record_failed",
    "supervision_record_joined",
    "supervision_record_left",
    "supervision_record_mode",
    "supervision_request",
    "department_named",
    "department_transfer_record",
    "department_transfer_request",
    "announcement_text",
    "call_claim_announcement",
    "queue_place",
    "FULL",
    "NOBODY",
    "call_turn_away",
    "department_turns_away",
    "HoldOutcome",
    "LegResult",
    "Match",
    "StageEvent",
    "StatusResult",
    "TransferTicket",
    "UNANSWERED",
    "Unanswered",
    "agent_active_call",
    "agent_choose_status",
    "agent_leave_call",
    "agent_record_heartbeat",
    "agent_set_status",
    "anyone_available",
    "available_agents",
    "call_apply_conference_event",
    "call_backfill",
    "call_apply_leg_event",
    "call_apply_status",
    "call_attach_agent_leg",
    "call_back_to_queue",
    "call_count_ivr_prompt",
    "call_choose_and_enqueue",
    "call_enqueue",
    "call_leave_queue",
    "call_log_add",
    "call_log_note",
    "call_match_agent",
    "call_move_stage",
    "call_note_after_hours",
    "call_note_status",
    "call_offer_to_agent",
    "call_record_hang_up",
    "call_record_hold",
    "call_record_resume",
    "call_release_agent",
    "ring_offers_record",
    "ringing_offer_call",
    "call_start",
    "call_store_recording",
    "conference_name_for",
    "heartbeat_cutoff",
    "held_seconds",
    "is_free",
    "is_online",
    "is_talking",
    "is_terminal",
    "next_stage",
    "transfer_decide_unanswered",
    "transfer_record_failed",
    "transfer_record_started",
    "transfer_request",
    "transfer_summary",
    "waiting_calls",
    "warm_transferrer_of",
]
