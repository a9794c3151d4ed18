"""Included at /bench/ only when BENCH_BASELINE_VIEWS is on (voice_project/urls.py)."""

from django.urls import path

from . import views

urlpatterns = [
    path("read", views.baseline_read, name="bench-read"),
    path("read-insert", views.baseline_read_insert, name="bench-read-insert"),
]
