"""One owner for the call (issue 11): voicetwilio writes and locks nothing on calls, call logs, transfers or agents.

Every such write lives in voiceconfig.calls. This scans voicetwilio's source, so the rule holds tomorrow too:
voicetwilio may read those tables, call the services, and talk to Twilio.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The tables the call package owns, by model name and by the related managers that reach them.
OWNED_MODELS = {"Call", "CallLog", "Transfer", "VoiceAgent"}
OWNED_RELATIONS = {"calls", "logs", "transfers", "transfers_made", "transfers_received", "voice_agent"}
WRITES = {"create", "update", "delete", "bulk_create", "bulk_update", "get_or_create", "update_or_create"}
ALWAYS_FORBIDDEN = {"save", "select_for_update"}


def _chain(node: ast.AST) -> list[str]:
    """The names along a call chain, `()` marking the called ones: Call.objects.filter(pk=1).update() ->
    [Call, objects, filter(), update()]; Twilio's client().calls(sid).update() -> [client(), calls(), update()]."""
    names: list[str] = []
    called = False
    while True:
        if isinstance(node, ast.Call):
            node, called = node.func, True
            continue
        if isinstance(node, ast.Attribute | ast.Name):
            names.append((node.attr if isinstance(node, ast.Attribute) else node.id) + ("()" if called else ""))
            called = False
            if isinstance(node, ast.Name):
                return names[::-1]
            node = node.value
        else:
            return names[::-1]


def _reaches_owned_table(chain: list[str]) -> bool:
    # A model's manager (Call.objects...) or a related manager (call.transfers...), never a called `calls(...)`.
    return chain[0] in OWNED_MODELS or any(name in OWNED_RELATIONS for name in chain[1:])


def forbidden_calls(source: str) -> list[str]:
    """`line: chain` for each ORM write or row lock on an owned table, and any save(), row lock or transaction."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr == "atomic":
            # transaction.atomic, called or not (a decorator, a context manager).
            found.add((node.lineno, "transaction.atomic"))
        if not isinstance(node, ast.Call):
            continue
        chain = _chain(node)
        verb = chain[-1].removesuffix("()")
        if verb in ALWAYS_FORBIDDEN or (verb in WRITES and _reaches_owned_table(chain)):
            found.add((node.lineno, ".".join(chain)))
    return [f"{line}: {chain}" for line, chain in sorted(found)]


@pytest.mark.parametrize(
    "source",
    [
        "Call.objects.filter(pk=1).update(stage='queued')",
        "VoiceAgent.objects.filter(pk=1).update(status='available')",
        "CallLog.objects.create(call=call)",
        "CallLog.objects.bulk_create([])",
        "Transfer.objects.create(call=call, step=1)",
        "call.save(update_fields=['stage'])",
        "call.transfers.create(step=1)",
        "Call.objects.select_for_update().get(pk=1)",
        "with transaction.atomic():\n    pass",
        "@transaction.atomic\ndef f():\n    pass",
        "Call.objects.filter(pk=1).delete()",
    ],
)
def test_the_scan_catches_each_kind_of_write_and_lock(source):
    assert forbidden_calls(source), source


@pytest.mark.parametrize(
    "source",
    [
        "client().conferences(sid).participants(leg).update(hold=True)",
        "client().calls(sid).update(status='completed')",
        "Call.objects.filter(pk=1).first()",
        "call_services.call_record_hold(call_id=1)",
        "params.update({'a': 1})",
    ],
)
def test_the_scan_lets_reads_services_and_twilio_requests_through(source):
    assert forbidden_calls(source) == []


def test_voicetwilio_holds_no_orm_write_or_row_lock_on_the_call_tables():
    offences = {
        str(path.relative_to(ROOT)): found
        for path in sorted((ROOT / "voicetwilio").rglob("*.py"))
        if (found := forbidden_calls(path.read_text()))
    }

    assert offences == {}, "voicetwilio must ask voiceconfig.calls to write and lock these tables"
