"""The admin call page lists the call's Transfer rows, read-only (issue 11 item 6)."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.console_support import connected_call
from voiceconfig.models import Transfer, TransferMode, TransferState, TransferTarget


@pytest.fixture
def superuser_client(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


def test_the_call_page_shows_each_transfer_in_the_chain(superuser_client, agent, other_agent, line):
    call = connected_call(agent=agent, line=line)
    Transfer.objects.create(
        call=call, step=1, from_agent=agent, target_type=TransferTarget.AGENT, target="client:bob",
        to_agent=other_agent, mode=TransferMode.WARM, state=TransferState.CONNECTED,
    )  # fmt: skip
    Transfer.objects.create(
        call=call, step=2, from_agent=other_agent, target_type=TransferTarget.PHONE_NUMBER, target="+14155550177",
        mode=TransferMode.COLD, state=TransferState.FAILED, failure="Twilio refused the number",
    )  # fmt: skip

    page = superuser_client.get(reverse("admin:voiceconfig_call_change", args=[call.pk])).content.decode()

    transfers = page[page.index('class="form-row field-transfers"') :]
    rows = transfers[: transfers.index("</table>")].split("<tr>")[2:]
    assert len(rows) == 2
    assert "client:bob" in rows[0] and "Warm" in rows[0] and "Connected" in rows[0] and "Bob" in rows[0]
    assert "+14155550177" in rows[1] and "Cold" in rows[1] and "Twilio refused the number" in rows[1]
    # Read-only: nothing on the page edits or adds a transfer.
    assert 'name="transfers' not in page and "Add another Transfer" not in page


def test_a_call_without_transfers_says_so(superuser_client, agent, line):
    call = connected_call(agent=agent, line=line)

    page = superuser_client.get(reverse("admin:voiceconfig_call_change", args=[call.pk])).content.decode()

    assert "No transfers." in page
