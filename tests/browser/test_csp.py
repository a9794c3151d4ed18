"""Finding 10: the console, the admin and the API docs run under the Content-Security-Policy without a violation.

Every page opened by the browser tests is watched for `securitypolicyviolation` events (tests/browser/conftest.py),
so the admin and console journeys prove their pages too; this file adds the docs and proves the policy bites.
"""

import pytest

from tests.browser.conftest import admin_login
from tests.conftest import make_user

pytestmark = [pytest.mark.browser]


def test_swagger_ui_renders_the_api_under_the_policy(transactional_db, open_page):
    page, watch = open_page()
    response = page.goto("/api/docs/")
    assert "script-src 'self' 'sha256-" in response.headers["content-security-policy"]
    page.wait_for_selector(".swagger-ui .information-container", timeout=20_000)
    assert page.locator(".opblock").count() > 20
    watch.assert_clean()


def test_the_policy_blocks_a_script_injected_into_the_console(transactional_db, open_page, console_assets):
    page, watch = open_page(fake_sdk=True)
    page.goto("/console/")
    page.wait_for_selector("#login-card")
    page.evaluate(
        """() => { const s = document.createElement('script'); s.textContent = 'window.injected = true';
                   document.body.appendChild(s); }"""
    )
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.injected === undefined")
    assert any("CSP violation: script-src" in problem for problem in watch.problems)
    watch.problems.clear()  # the violation was the point of this test


def test_the_admin_login_and_its_second_factor_page_run_under_the_policy(transactional_db, open_page):
    make_user("boss", staff=True)
    page, watch = open_page()
    response = page.goto("/admin/login/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    admin_login(page, "boss")
    watch.assert_clean()
