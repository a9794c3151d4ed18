"""`GET /healthz`: is this process able to serve calls? For load balancers and orchestrators.

It answers 200 only when the database answers a query, because without the database no webhook can
record a call: a process that cannot reach it should be taken out of rotation (503). The check is one
round trip (`SELECT 1`), cheap enough to poll every few seconds, needs no authentication and reveals
nothing but the outcome.
"""

import logging
import time

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        logger.error("health check: database unavailable: %s", exc)
        # A broken connection must not be reused by the next request of this worker.
        connection.close_if_unusable_or_obsolete()
        return JsonResponse({"status": "unavailable", "checks": {"database": "unavailable"}}, status=503)
    elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
    return JsonResponse({"status": "ok", "checks": {"database": "ok"}, "databaseMs": elapsed_ms})
