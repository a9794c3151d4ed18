"""The admin's "View site" link goes to the live overview (issue 12 item 6), not to `/`, which is a JSON 404."""

import re

from django.test import Client


def test_view_site_opens_the_live_overview(staff_user):
    client = Client()
    client.force_login(staff_user)

    page = client.get("/admin/").content.decode()
    link = re.search(r'<a href="([^"]+)">View site</a>', page)

    assert link, "the admin header has a View site link"
    assert link.group(1) == "/admin/voice/overview/"
    assert client.get(link.group(1)).status_code == 200
