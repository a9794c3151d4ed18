"""The two baselines the webhooks are measured against, served by the same gunicorn and middleware.

- `read`: one indexed read (the call by its CallSid), the least any webhook does.
- `read-insert`: that read plus one committed insert (a CallLog row), the least a webhook can do that
  must not lose what Twilio told it.

They take the same form body as a status callback and answer a TwiML-sized text/xml body, so the only
difference from a webhook is the webhook's own work (signature check, state machine, TwiML building).
"""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from voiceconfig.models import Call, CallEvent, CallLog

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


def _call_id(call_sid: str) -> int | None:
    return Call.objects.filter(call_sid=call_sid).values_list("id", flat=True).first()


@csrf_exempt
@require_POST
def baseline_read(request: HttpRequest) -> HttpResponse:
    _call_id(request.POST.get("CallSid", ""))
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@csrf_exempt
@require_POST
def baseline_read_insert(request: HttpRequest) -> HttpResponse:
    call_sid = request.POST.get("CallSid", "")
    # Autocommit: the insert is its own durable transaction, committed before the response is sent.
    CallLog.objects.create(
        call_id=_call_id(call_sid),
        call_sid=call_sid,
        event=CallEvent.NOTE,
        call_status=request.POST.get("CallStatus", "")[:20],
        message="bench baseline",
    )
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
