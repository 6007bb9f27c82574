"""Password and one-time-code sign-in in headless Chromium: a steward enrols TOTP through the
pages (the key read off the page, the code made with pyotp), signs out, signs in with password
and code; a wrong code is refused, repeated failures lock the person out, a recovery code works
once, and a steward without a second factor reaches nothing but its enrolment."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.wait import WebDriverWait

from api.app import create_app
from catalog.access.principal import Role
from catalog.people.people import Person
from tests.api.world import OWNER, World, build_platform, serve

PASSWORD = "correct horse battery staple"
LOCKOUT = 3


@pytest.fixture(scope="module")
def mfa_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The API test world, with a lockout of three failures, served on loopback."""
    platform = build_platform(
        tmp_path_factory.mktemp("mfa-browser"),
        signin_lockout_failures=LOCKOUT,
        auth_failures_per_minute=1000,
    )
    with serve(create_app(platform)) as url:
        yield World(platform=platform, url=url)


def shown(driver: WebDriver, css: str) -> WebElement:
    """The element once it is visible."""
    return WebDriverWait(driver, 30).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def at(driver: WebDriver, path: str) -> None:
    """Wait until the browser is at `path` (query aside)."""
    WebDriverWait(driver, 30).until(lambda d: d.current_url.split("?")[0].endswith(path))


def steady() -> None:
    """Wait while the current 30-second step is about to end."""
    while time.time() % 30 > 25:
        time.sleep(0.2)


def code(secret: str, steps: int = 0) -> str:
    """The one-time code `steps` steps from now (the server accepts one either side)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps)


def person(site: World, roles: tuple[Role, ...]) -> Person:
    login = f"b{secrets.token_hex(4)}@police.go.kr"
    return site.platform.people.create(OWNER, "이서연", roles, login=login, password=PASSWORD)


def type_password(driver: WebDriver, site: World, login: str, password: str = PASSWORD) -> None:
    """Open the sign-in page and send a login and password."""
    driver.get(f"{site.url}/signin")
    form = shown(driver, "form#password-signin")
    form.find_element(By.NAME, "login").send_keys(login)
    form.find_element(By.NAME, "password").send_keys(password)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def type_code(driver: WebDriver, value: str, form_id: str = "code-signin") -> None:
    form = shown(driver, f"form#{form_id}")
    field = form.find_element(By.NAME, "code")
    field.clear()
    field.send_keys(value)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def sign_out(driver: WebDriver) -> None:
    shown(driver, "form#signout button").click()
    at(driver, "/signin")


def save(driver: WebDriver, folder: Path, name: str) -> None:
    path = folder / f"{name}.png"
    assert driver.save_screenshot(str(path)) and path.stat().st_size > 1000


def test_a_steward_enrols_then_signs_in_with_password_and_code(
    page: WebDriver, mfa_site: World, tmp_path: Path
) -> None:
    steward = person(mfa_site, (Role.steward,))
    page.get(f"{mfa_site.url}/steward")
    at(page, "/signin")
    save(page, tmp_path, "signin-ko")
    type_password(page, mfa_site, steward.login or "")
    at(page, "/account/mfa")
    assert shown(page, "#mfa-required").text
    # Nothing else opens before the second factor is enrolled.
    page.get(f"{mfa_site.url}/steward")
    at(page, "/account/mfa")
    shown(page, "#mfa-begin-submit").click()
    secret = shown(page, "#totp-secret").text.strip()
    assert shown(page, "#mfa-qr svg").size["width"] > 100
    save(page, tmp_path, "mfa-enrol-qr")
    steady()
    type_code(page, code(secret), "mfa-confirm")
    assert shown(page, "#mfa-done").text  # the answer page first: the codes are on it
    codes = [e.text for e in page.find_elements(By.CSS_SELECTOR, "#recovery-codes li")]
    assert len(codes) == 10
    save(page, tmp_path, "mfa-recovery-codes")
    shown(page, "#mfa-continue").click()
    shown(page, "header .who")
    sign_out(page)

    type_password(page, mfa_site, steward.login or "")
    at(page, "/signin/code")
    type_code(page, "000000" if code(secret, 1) != "000000" else "111111")
    assert shown(page, "#signin-error").text
    save(page, tmp_path, "signin-wrong-code")
    type_code(page, code(secret, 1))  # this step's code was used to enrol
    shown(page, "header .who")
    page.get(f"{mfa_site.url}/steward")
    at(page, "/steward")
    save(page, tmp_path, "steward-after-code")


def test_repeated_failures_lock_the_person_out(
    page: WebDriver, mfa_site: World, tmp_path: Path
) -> None:
    analyst = person(mfa_site, (Role.analyst,))
    for attempt in range(LOCKOUT):
        type_password(page, mfa_site, analyst.login or "", f"not the password {attempt}")
        assert shown(page, "#signin-error").text
    assert "15" in shown(page, "#signin-error").text
    type_password(page, mfa_site, analyst.login or "")  # the right one, while locked
    assert "15" in shown(page, "#signin-error").text
    assert "/signin" in page.current_url
    save(page, tmp_path, "signin-locked")


def test_a_recovery_code_works_once(page: WebDriver, mfa_site: World, tmp_path: Path) -> None:
    people = mfa_site.platform.people
    steward = person(mfa_site, (Role.steward,))
    secret = people.begin_totp(steward.person_id)
    steady()
    codes = people.confirm_totp(steward.person_id, code(secret))
    assert codes is not None
    type_password(page, mfa_site, steward.login or "")
    shown(page, "#use-recovery").click()
    type_code(page, codes[0], "recovery-signin")
    shown(page, "header .who")
    sign_out(page)

    type_password(page, mfa_site, steward.login or "")
    shown(page, "#use-recovery").click()
    type_code(page, codes[0], "recovery-signin")
    assert shown(page, "#signin-error").text
    assert "/signin/code" in page.current_url
    save(page, tmp_path, "signin-recovery-reused")


def test_a_steward_without_a_second_factor_cannot_reach_steward_pages(
    page: WebDriver, mfa_site: World
) -> None:
    steward = person(mfa_site, (Role.steward,))
    type_password(page, mfa_site, steward.login or "")
    at(page, "/account/mfa")
    for path in ("/steward", "/contracts/new", "/"):
        page.get(f"{mfa_site.url}{path}")
        at(page, "/account/mfa")


def test_the_account_pages_show_roles_and_make_a_token(
    page: WebDriver, mfa_site: World, tmp_path: Path
) -> None:
    analyst = person(mfa_site, (Role.analyst,))
    type_password(page, mfa_site, analyst.login or "")
    shown(page, "header .who a").click()
    at(page, "/account")
    assert shown(page, "#account-name").text == "이서연"
    save(page, tmp_path, "account")
    shown(page, "#tokens-link").click()
    form = shown(page, "form#token-create")
    form.find_element(By.NAME, "name").send_keys("주간 보고 스크립트")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert shown(page, "#new-token").text.startswith("gyk_")
    save(page, tmp_path, "account-token-created")
