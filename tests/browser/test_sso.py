"""Single sign-on in Chromium against a real OpenID provider on loopback: a stranger goes to the
provider, signs in there as a person whose claims name an agency and roles, and comes back to
the catalog's home page signed in as that agency, in the first of those roles."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.wait import WebDriverWait

from api.web.i18n import catalogue
from catalog.access.principal import Role
from tests.api.oidc_world import Provider, provider, sso_world
from tests.api.world import OWNER, World
from tests.browser.conftest import Screenshot, console_errors


@pytest.fixture(scope="module")
def sso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Provider]]:
    with provider() as idp, sso_world(tmp_path_factory.mktemp("sso-browser"), idp.url) as served:
        yield served, idp


def test_sso_sign_in_lands_on_the_home_page_as_the_claimed_agency_and_role(
    page: WebDriver, sso: tuple[World, Provider], screenshot: Screenshot
) -> None:
    served, idp = sso
    idp.set_claims(
        "kim.jiwon", {"agency": OWNER, "roles": ["steward", "analyst"], "name": "김지원"}
    )
    wait = WebDriverWait(page, 30)
    page.get(f"{served.url}/")
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "form#signin")))
    # The sign-in page offers the provider by the name the settings give it.
    button = page.find_element(By.CSS_SELECTOR, "a#oidc-signin")
    assert served.platform.settings.oidc_name in button.text
    button.click()
    # The provider's own page: who signs in is typed into its form.
    box = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "input[name=sub]")))
    assert page.current_url.startswith(f"{idp.url}/oauth2/authorize?")
    box.send_keys("kim.jiwon")
    screenshot(page, "sso-provider-form")
    console_errors(page)  # the provider's page asks a CDN for its stylesheet: not ours to judge
    box.submit()
    who = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "header .who")))
    assert page.current_url == f"{served.url}/"
    agency = served.platform.registry.agency(OWNER)
    assert agency is not None
    assert agency.name in who.text and catalogue()[f"role.{Role.steward}"].ko in who.text
    (person,) = [p for p in served.platform.people.list() if p.oidc_subject == "kim.jiwon"]
    assert (person.agency, person.roles) == (OWNER, (Role.steward, Role.analyst))
    assert {c["name"] for c in page.get_cookies()} >= {"gongyu_session"}
    assert "gongyu_oidc" not in {c["name"] for c in page.get_cookies()}  # the flow is over
    assert console_errors(page) == []
    screenshot(page, "sso-home")
