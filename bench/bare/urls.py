from django.http import HttpResponse
from django.urls import path

from . import views

urlpatterns = [
    path("bench/bare", views.read_insert),
    # The bench waits for this before measuring, as it does for the project's /healthz.
    path("healthz", lambda request: HttpResponse("ok")),
]
