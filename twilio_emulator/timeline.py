"""The readable story of a call: who heard what, every webhook and its answer, every state change."""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Entry:
    t: float
    who: str
    kind: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)

    def render(self, *, verbose: bool = False) -> str:
        line = f"{self.t:8.1f}s  {self.who:<10} {self.text}"
        if verbose and self.data.get("detail"):
            detail = "\n".join(" " * 22 + part for part in str(self.data["detail"]).splitlines())
            line = f"{line}\n{detail}"
        return line


class Timeline:
    """Append-only, thread-safe; listeners see each entry as it is added (simulate_call prints live)."""

    def __init__(self, now: Callable[[], float]):
        self._now = now
        self.origin = 0.0  # entries are timed from here: the start of the current scenario
        self._lock = threading.Lock()
        self.entries: list[Entry] = []
        self.listeners: list[Callable[[Entry], None]] = []

    def add(self, who: str, kind: str, text: str, **data: Any) -> Entry:
        entry = Entry(t=self._now() - self.origin, who=who, kind=kind, text=text, data=data)
        with self._lock:
            self.entries.append(entry)
            listeners = list(self.listeners)
        for listener in listeners:
            listener(entry)
        return entry

    def of_kind(self, *kinds: str) -> list[Entry]:
        with self._lock:
            return [e for e in self.entries if e.kind in kinds]

    def errors(self) -> list[Entry]:
        return self.of_kind("error")

    def render(self, *, verbose: bool = False) -> str:
        with self._lock:
            return "\n".join(entry.render(verbose=verbose) for entry in self.entries)

    def clear(self) -> None:
        """Start a new story: no entries, and times counted from now."""
        with self._lock:
            self.entries.clear()
            self.origin = self._now()
