"""The app's own REST API, as the agent console and an admin use it: JSON over HTTP with a JWT."""

from dataclasses import dataclass
from typing import Any

import requests


class AppApiError(Exception):
    def __init__(self, message: str, *, status: int = 0, body: Any = None):
        super().__init__(message)
        self.status = status
        self.body = body


@dataclass
class Reply:
    status: int
    data: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class AppClient:
    def __init__(self, base_url: str, *, timeout: float = 15.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        # Logging in hashes a password (slow on purpose): one token per user for this client's life.
        self._tokens: dict[tuple[str, str], str] = {}

    def request(
        self, method: str, path: str, *, token: str = "", json: Any = None, params: dict | None = None
    ) -> Reply:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = self.session.request(
                method, self.base_url + path, json=json, params=params, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise AppApiError(f"{method} {path}: the app did not answer ({exc.__class__.__name__})") from exc
        try:
            data = response.json() if response.content else None
        except ValueError:
            data = response.text
        return Reply(response.status_code, data)

    def login(self, username: str, password: str) -> str:
        """A JWT access token for this user (POST /api/auth/token), as the console's login does."""
        if (username, password) in self._tokens:
            return self._tokens[username, password]
        reply = self.request("POST", "/api/auth/token", json={"username": username, "password": password})
        if not reply.ok or not isinstance(reply.data, dict) or "access" not in reply.data:
            raise AppApiError(f"login as {username} failed: HTTP {reply.status} {reply.data}", status=reply.status)
        self._tokens[username, password] = reply.data["access"]
        return reply.data["access"]

    def forget(self, username: str, password: str) -> None:
        """Drop a cached token (it expired)."""
        self._tokens.pop((username, password), None)

    def get_all(self, path: str, *, token: str, params: dict | None = None) -> list[dict]:
        """Every row of a paginated list ({count, next, previous, results})."""
        rows: list[dict] = []
        query = dict(params or {})
        page = 1
        while True:
            reply = self.request("GET", path, token=token, params={**query, "page": page})
            if not reply.ok:
                raise AppApiError(f"GET {path}: HTTP {reply.status} {reply.data}", status=reply.status)
            data = reply.data
            if isinstance(data, list):
                return data
            rows.extend(data.get("results", []))
            if not data.get("next"):
                return rows
            page += 1
