"""One view: read the call by its CallSid (indexed), insert one event row, commit, answer empty TwiML."""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from .models import BareCall, BareEvent

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


@csrf_exempt
def read_insert(request: HttpRequest) -> HttpResponse:
    call_sid = request.POST.get("CallSid", "")
    call_id = BareCall.objects.filter(call_sid=call_sid).values_list("id", flat=True).first()
    # Autocommit: the insert is its own durable transaction, committed before the answer is sent.
    BareEvent.objects.create(
        call_id=call_id, call_sid=call_sid, event="status", call_status=request.POST.get("CallStatus", "")[:20]
    )
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
