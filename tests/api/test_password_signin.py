"""Password and one-time-code sign-in over HTTP on loopback, and a person's own account pages:
the code step only after that person's password, codes used once, lockout on every factor,
recovery codes once each, enrolment forced on stewards, role switch, personal tokens."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pyotp
import pytest

from api.app import create_app
from api.auth import SESSION_COOKIE
from api.web.signin import CHALLENGE_COOKIE
from catalog.access.principal import Role
from catalog.people.people import Person
from tests.api.web_session import form_token, parse, text
from tests.api.world import OWNER, World, build_platform, serve

PASSWORD = "correct horse battery staple"
LOCKOUT = 3


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    platform = build_platform(
        tmp_path_factory.mktemp("password-signin"),
        signin_lockout_failures=LOCKOUT,
        auth_failures_per_minute=1000,
    )
    with serve(create_app(platform)) as url:
        yield World(platform=platform, url=url)


def steady() -> None:
    """Wait while the current 30-second step is about to end, so a code computed now is
    checked in the step it was computed for."""
    while time.time() % 30 > 27:
        time.sleep(0.2)


def code(secret: str, steps: int = 0) -> str:
    """The one-time code `steps` steps from now (the server accepts one either side)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps)


def person(served: World, roles: tuple[Role, ...], *, login: str | None = None) -> Person:
    """A new person of the owner agency with a password and no second factor."""
    login = login or f"p{secrets.token_hex(4)}@police.go.kr"
    return served.platform.people.create(OWNER, "김민지", roles, login=login, password=PASSWORD)


def enrolled(served: World, roles: tuple[Role, ...]) -> tuple[Person, str, list[str]]:
    """A person with TOTP enrolled (with last step's code, so this step's and the next are
    still unused); their secret and recovery codes."""
    people = served.platform.people
    found = person(served, roles)
    secret = people.begin_totp(found.person_id)
    steady()
    codes = people.confirm_totp(found.person_id, code(secret, -1))
    assert codes is not None
    return people.get(found.person_id), secret, codes


def browser(served: World) -> httpx.Client:
    return httpx.Client(base_url=served.url, timeout=60)


def password_step(
    client: httpx.Client, login: str, password: str = PASSWORD, next_path: str = "/"
) -> httpx.Response:
    token = form_token(client.get("/signin").text, "password-signin")
    return client.post(
        "/signin/password",
        data={"login": login, "password": password, "csrf_token": token, "next": next_path},
    )


def code_step(client: httpx.Client, value: str, factor: str = "totp") -> httpx.Response:
    page = client.get("/signin/code", params={"recovery": "true"} if factor == "recovery" else {})
    form = "recovery-signin" if factor == "recovery" else "code-signin"
    token = form_token(page.text, form)
    return client.post("/signin/code", data={"code": value, "factor": factor, "csrf_token": token})


def error_of(response: httpx.Response) -> str:
    found = parse(response.text).find(".//p[@id='signin-error']")
    assert found is not None, response.text[:2000]
    return text(found)


def page_form_token(client: httpx.Client, path: str, form_id: str) -> str:
    return form_token(client.get(path).text, form_id)


def test_the_sign_in_page_asks_a_password_first_and_keeps_the_token_form(served: World) -> None:
    page = httpx.get(served.url + "/signin?lang=en")
    tree = parse(page.text)
    forms = [f.attrib["id"] for f in tree.iter("form")]
    assert forms == ["password-signin", "signin"]
    assert tree.find(".//form[@id='signin']//input[@name='credential']") is not None
    assert "gongyu keys create" not in page.text
    assert "operator" in page.text
    assert tree.find(".//a[@id='oidc-signin']") is None  # no identity provider configured


def test_an_analyst_without_a_second_factor_signs_in_with_the_password(served: World) -> None:
    analyst = person(served, (Role.analyst,))
    with browser(served) as client:
        answer = password_step(client, analyst.login or "", next_path="/search?q=x")
        assert answer.status_code == 303 and answer.headers["location"] == "/search?q=x"
        assert client.get("/search?q=x").status_code == 200
        me = parse(client.get("/account").text)
        assert text(me.find(".//dd[@id='account-name']")) == "김민지"
    records = served.platform.audit.records(person=analyst.person_id, kind="signin")
    assert [(r.statement, r.outcome, r.via) for r in records] == [
        ("sign-in: password", "ok", "password")
    ]


def test_a_wrong_password_is_refused_and_recorded(served: World) -> None:
    analyst = person(served, (Role.analyst,))
    with browser(served) as client:
        answer = password_step(client, analyst.login or "", "not the password at all")
        assert answer.status_code == 401 and SESSION_COOKIE not in answer.cookies
        assert error_of(answer)
        unknown = password_step(client, "nobody@nowhere.kr", PASSWORD)
        assert unknown.status_code == 401
        assert error_of(unknown) == error_of(answer)  # an unknown login looks the same
    refused = [
        r
        for r in served.platform.audit.records(kind="signin", limit=50)
        if r.subject == f"login:{analyst.login}"
    ]
    assert refused and refused[0].outcome == "denied" and refused[0].error == "invalid"


def test_password_and_one_time_code_sign_in(served: World) -> None:
    steward, secret, _ = enrolled(served, (Role.steward,))
    with browser(served) as client:
        first = password_step(client, steward.login or "", next_path="/steward")
        assert first.status_code == 303 and first.headers["location"] == "/signin/code"
        assert SESSION_COOKIE not in client.cookies  # no session before the second factor
        assert client.get("/steward").status_code == 303
        steady()
        done = code_step(client, code(secret))
        assert done.status_code == 303 and done.headers["location"] == "/steward"
        assert client.get("/steward").status_code == 200
        assert CHALLENGE_COOKIE not in client.cookies  # the challenge is gone with its use
    statements = [
        (r.statement, r.outcome)
        for r in served.platform.audit.records(person=steward.person_id, kind="signin")
    ]
    assert statements == [("sign-in: totp", "ok"), ("sign-in: password", "ok")]


def test_a_wrong_code_is_refused_then_the_right_one_works(served: World) -> None:
    steward, secret, _ = enrolled(served, (Role.steward,))
    with browser(served) as client:
        assert password_step(client, steward.login or "").status_code == 303
        steady()
        right = code(secret)
        wrong = f"{(int(right) + 1) % 1_000_000:06d}"
        refused = code_step(client, wrong)
        assert refused.status_code == 401 and SESSION_COOKIE not in client.cookies
        assert error_of(refused)
        assert code_step(client, right).status_code == 303


def test_a_code_is_not_used_twice_within_its_window(served: World) -> None:
    steward, secret, _ = enrolled(served, (Role.steward,))
    steady()
    used = code(secret)
    with browser(served) as first:
        assert password_step(first, steward.login or "").status_code == 303
        assert code_step(first, used).status_code == 303
    with browser(served) as second:
        assert password_step(second, steward.login or "").status_code == 303
        again = code_step(second, used)
        assert again.status_code == 401 and SESSION_COOKIE not in second.cookies
        # An earlier step's code is refused too, once a later one was used.
        assert code_step(second, code(secret, -1)).status_code == 401


def test_two_sign_ins_racing_with_one_code_open_one_session(served: World) -> None:
    steward, secret, _ = enrolled(served, (Role.steward,))
    clients = [browser(served) for _ in range(LOCKOUT)]  # the losers stay under the lockout
    try:
        tokens = []
        for client in clients:
            assert password_step(client, steward.login or "").status_code == 303
            tokens.append(page_form_token(client, "/signin/code", "code-signin"))
        steady()
        same = code(secret)
        answers: list[int] = []
        start = threading.Barrier(len(clients))

        def post(client: httpx.Client, token: str) -> None:
            start.wait()
            data = {"code": same, "factor": "totp", "csrf_token": token}
            answers.append(client.post("/signin/code", data=data).status_code)

        threads = [
            threading.Thread(target=post, args=pair) for pair in zip(clients, tokens, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(answers) == [303] + [401] * (LOCKOUT - 1)
    finally:
        for client in clients:
            client.close()


def test_lockout_after_repeated_failures_refuses_the_right_password(served: World) -> None:
    analyst = person(served, (Role.analyst,))
    with browser(served) as client:
        client.cookies.set("gongyu_lang", "en")
        for attempt in range(LOCKOUT):
            answer = password_step(client, analyst.login or "", f"wrong password {attempt}")
        assert answer.status_code == 403
        assert "15" in error_of(answer)
        right = password_step(client, analyst.login or "", PASSWORD)
        assert right.status_code == 403 and SESSION_COOKIE not in client.cookies
        assert error_of(right) == "Too many failures: try again in 15 minutes."


def test_lockout_on_the_code_step_ends_the_challenge(served: World) -> None:
    steward, secret, _ = enrolled(served, (Role.steward,))
    with browser(served) as client:
        assert password_step(client, steward.login or "").status_code == 303
        for _ in range(LOCKOUT - 1):
            assert code_step(client, "000000").status_code == 401
        steady()
        right = code(secret)
        locked = code_step(client, "000000" if right != "000000" else "111111")
        assert locked.status_code == 403 and "15" in error_of(locked)
        # The challenge is over, and the person is locked: even the right factors fail.
        assert client.get("/signin/code").text.count("code-signin") == 0
        assert password_step(client, steward.login or "").status_code == 403


def test_a_recovery_code_works_once(served: World) -> None:
    steward, _, codes = enrolled(served, (Role.steward,))
    with browser(served) as client:
        assert password_step(client, steward.login or "").status_code == 303
        assert code_step(client, codes[0].lower(), "recovery").status_code == 303
        assert client.get("/steward").status_code == 200
        me = parse(client.get("/account?lang=en").text)
        assert "Recovery codes left: 9" in text(me.find(".//p[@id='mfa-status']"))
    with browser(served) as client:
        assert password_step(client, steward.login or "").status_code == 303
        again = code_step(client, codes[0], "recovery")
        assert again.status_code == 401 and SESSION_COOKIE not in client.cookies
        assert code_step(client, codes[1], "recovery").status_code == 303


def test_the_code_step_needs_the_password_step(served: World) -> None:
    _, secret, _ = enrolled(served, (Role.steward,))
    with browser(served) as client:
        token = form_token(client.get("/signin").text, "password-signin")
        steady()
        straight = client.post(
            "/signin/code", data={"code": code(secret), "factor": "totp", "csrf_token": token}
        )
        assert straight.status_code == 401 and SESSION_COOKIE not in client.cookies
        # A made-up challenge id is no better.
        client.cookies.set(CHALLENGE_COOKIE, secrets.token_urlsafe(32), path="/signin")
        made_up = client.post(
            "/signin/code", data={"code": code(secret), "factor": "totp", "csrf_token": token}
        )
        assert made_up.status_code == 401 and SESSION_COOKIE not in client.cookies
        assert client.get("/signin/code").text.count("code-signin") == 0
        assert "password-signin" in client.get("/signin/code").text  # back to the first step


def test_a_challenge_is_of_one_person_and_ends_with_the_next_password(served: World) -> None:
    first, first_secret, _ = enrolled(served, (Role.steward,))
    second, _, _ = enrolled(served, (Role.steward,))
    with browser(served) as client:
        assert password_step(client, first.login or "").status_code == 303
        first_challenge = client.cookies[CHALLENGE_COOKIE]
        assert password_step(client, second.login or "").status_code == 303
        steady()
        # The second person's challenge does not take the first person's code ...
        assert code_step(client, code(first_secret)).status_code == 401
        # ... and the first person's challenge ended with the second password step.
        token = form_token(client.get("/signin").text, "password-signin")
        client.cookies.set(CHALLENGE_COOKIE, first_challenge, path="/signin")
        replay = client.post(
            "/signin/code",
            data={"code": code(first_secret, 1), "factor": "totp", "csrf_token": token},
        )
        assert replay.status_code == 401 and SESSION_COOKIE not in client.cookies


def test_a_steward_without_a_second_factor_reaches_only_its_enrolment(served: World) -> None:
    steward = person(served, (Role.steward,))
    with browser(served) as client:
        answer = password_step(client, steward.login or "", next_path="/steward")
        assert answer.status_code == 303 and answer.headers["location"] == "/account/mfa"
        for path in ("/steward", "/contracts/new", "/", "/account", "/account/tokens"):
            moved = client.get(path)
            assert moved.status_code == 303 and moved.headers["location"] == "/account/mfa", path
        assert client.get("/api/v1/catalog/sectors").status_code == 401
        enrol = client.get("/account/mfa?lang=en")
        assert enrol.status_code == 200 and "must enrol" in enrol.text
        begin = client.post(
            "/account/mfa/begin", data={"csrf_token": form_token(enrol.text, "mfa-begin")}
        )
        tree = parse(begin.text)
        secret = text(tree.find(".//code[@id='totp-secret']"))
        svg = tree.find(".//figure[@id='mfa-qr']/svg")
        # Drawn in the page: no image, script or other address is fetched for it.
        assert svg is not None and svg.find(".//path[@stroke]") is not None
        assert "<img" not in begin.text and "<script" not in begin.text
        token = form_token(begin.text, "mfa-confirm")
        wrong = client.post("/account/mfa/confirm", data={"code": "12345", "csrf_token": token})
        assert wrong.status_code == 400
        assert client.get("/steward").status_code == 303  # still enrolling
        steady()
        done = client.post("/account/mfa/confirm", data={"code": code(secret), "csrf_token": token})
        assert done.status_code == 200
        codes = [text(li) for li in parse(done.text).findall(".//ol[@id='recovery-codes']/li")]
        assert len(codes) == 10 and len(set(codes)) == 10
        assert client.get("/steward").status_code == 200
        assert client.get("/api/v1/catalog/sectors").status_code == 200
        # The codes were shown once: the page now only counts them.
        again = client.get("/account/mfa?lang=en").text
        assert codes[0] not in again and "Recovery codes left: 10" in again
        # A second enrolment waits for an operator's reset; the form posted again shows none.
        for path, data in (
            ("/account/mfa/begin", {"csrf_token": token}),
            ("/account/mfa/confirm", {"code": code(secret), "csrf_token": token}),
        ):
            twice = client.post(path, data=data)
            assert twice.status_code == 409 and "totp-secret" not in twice.text
            assert codes[0] not in twice.text
    assert served.platform.people.get(steward.person_id).mfa_enrolled


def test_enrolment_forms_check_the_csrf_token(served: World) -> None:
    steward = person(served, (Role.steward,))
    with browser(served) as client:
        assert password_step(client, steward.login or "").status_code == 303
        assert client.post("/account/mfa/begin", data={"csrf_token": "x"}).status_code == 403
        assert not served.platform.people.get(steward.person_id).mfa_enrolled


def test_an_analyst_may_enrol_and_then_needs_the_code(served: World) -> None:
    analyst = person(served, (Role.analyst,))
    with browser(served) as client:
        assert password_step(client, analyst.login or "").headers["location"] == "/"
        start = client.get("/account/mfa")
        begin = client.post(
            "/account/mfa/begin", data={"csrf_token": form_token(start.text, "mfa-begin")}
        )
        secret = text(parse(begin.text).find(".//code[@id='totp-secret']"))
        steady()
        token = form_token(begin.text, "mfa-confirm")
        assert (
            client.post(
                "/account/mfa/confirm", data={"code": code(secret, -1), "csrf_token": token}
            ).status_code
            == 200
        )
    with browser(served) as client:
        assert password_step(client, analyst.login or "").headers["location"] == "/signin/code"
        assert code_step(client, code(secret)).status_code == 303


def test_a_person_switches_among_their_roles(served: World) -> None:
    both, secret, _ = enrolled(served, (Role.steward, Role.analyst))
    with browser(served) as client:
        assert password_step(client, both.login or "").status_code == 303
        steady()
        assert code_step(client, code(secret)).status_code == 303
        assert client.get("/steward").status_code == 200
        token = page_form_token(client, "/account", "role-switch")
        switched = client.post("/account/role", data={"role": "analyst", "csrf_token": token})
        assert switched.status_code == 303
        me = parse(client.get("/account?lang=en").text)
        assert text(me.find(".//dd[@id='account-role']")) == "analyst"
        assert client.get("/steward").status_code == 403
        refused = client.post("/account/role", data={"role": "operator", "csrf_token": token})
        assert refused.status_code == 400
        forged = client.post("/account/role", data={"role": "steward", "csrf_token": "x"})
        assert forged.status_code == 403
        back = client.post("/account/role", data={"role": "steward", "csrf_token": token})
        assert back.status_code == 303 and client.get("/steward").status_code == 200


def new_token(
    client: httpx.Client, scopes: tuple[str, ...] = ("read",), days: str = "30", **fields: str
) -> httpx.Response:
    token = page_form_token(client, "/account/tokens", "token-create")
    data = {"name": "my script", "role": "analyst", "days": days, "csrf_token": token, **fields}
    return client.post("/account/tokens", data={**data, "scope": list(scopes)})


def test_personal_tokens_shown_once_scoped_expiring_and_revocable(served: World) -> None:
    analyst = person(served, (Role.analyst,))
    sql = {"sql": "SELECT 1 AS one"}
    with browser(served) as client:
        assert password_step(client, analyst.login or "").status_code == 303
        made = new_token(client)
        assert made.status_code == 200
        token = text(parse(made.text).find(".//code[@id='new-token']"))
        assert token.startswith("gyk_")
        listed = client.get("/account/tokens").text
        assert token not in listed and token.split("_")[1] in listed  # shown once, then its id
        key = served.platform.keys.get(token.split("_")[1])
        assert key.person_id == analyst.person_id and key.scopes == ("read",)
        assert key.expires_at is not None
        expires = key.expires_at.replace(tzinfo=key.expires_at.tzinfo or UTC)
        assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=5)
        bearer = {"Authorization": f"Bearer {token}"}
        assert httpx.post(served.url + "/api/v1/sql", json=sql, headers=bearer).status_code == 200

        deliver_only = new_token(client, ("deliver",))
        other = text(parse(deliver_only.text).find(".//code[@id='new-token']"))
        limited = httpx.post(
            served.url + "/api/v1/sql", json=sql, headers={"Authorization": f"Bearer {other}"}
        )
        assert limited.status_code in (401, 403)

        for bad in (
            new_token(client, days="400"),
            new_token(client, days="0"),
            new_token(client, ()),
            new_token(client, role="steward"),  # not a role this analyst holds
            new_token(client, name=""),
        ):
            assert (
                bad.status_code == 400 and parse(bad.text).find(".//code[@id='new-token']") is None
            )

        revoke = form_token(client.get("/account/tokens").text, "token-create")
        done = client.post(f"/account/tokens/{key.key_id}/revoke", data={"csrf_token": revoke})
        assert done.status_code == 303
        assert httpx.post(served.url + "/api/v1/sql", json=sql, headers=bearer).status_code == 401
        # Another person's token is not theirs to revoke.
        someone = served.platform.keys.create(OWNER, Role.analyst, "someone else's")[0]
        theirs = client.post(
            f"/account/tokens/{someone.key_id}/revoke", data={"csrf_token": revoke}
        )
        assert theirs.status_code == 404 and served.platform.keys.get(someone.key_id).live


def test_a_token_session_makes_no_tokens_and_changes_no_factors(served: World) -> None:
    analyst = person(served, (Role.analyst,))
    token = served.platform.keys.create(
        OWNER, Role.analyst, "read only", person_id=analyst.person_id, scopes=["read"]
    )[1]
    with browser(served) as client:
        form = form_token(client.get("/signin").text, "signin")
        signed = client.post("/signin", data={"credential": token, "csrf_token": form})
        assert signed.status_code == 303
        for path in ("/account/tokens", "/account/password", "/account/mfa"):
            assert client.get(path).status_code == 403, path
        assert client.get("/account").status_code == 200


def test_a_password_is_changed_with_the_current_one(served: World) -> None:
    analyst = person(served, (Role.analyst,))
    new = "a much longer passphrase 2026"
    with browser(served) as client:
        assert password_step(client, analyst.login or "").status_code == 303
        token = page_form_token(client, "/account/password", "password-change")

        def change(current: str, first: str, second: str) -> httpx.Response:
            data = {"current": current, "new": first, "again": second, "csrf_token": token}
            return client.post("/account/password", data=data)

        assert change("wrong current password", new, new).status_code == 400
        assert change(PASSWORD, new, new + "x").status_code == 400
        assert change(PASSWORD, "short", "short").status_code == 400
        assert change(PASSWORD, new, new).status_code == 200
    with browser(served) as client:
        assert password_step(client, analyst.login or "").status_code == 401
        assert password_step(client, analyst.login or "", new).status_code == 303


def test_the_account_page_says_who_i_am(served: World) -> None:
    analyst = person(served, (Role.analyst,))
    with browser(served) as client:
        assert password_step(client, analyst.login or "").status_code == 303
        home = parse(client.get("/").text)
        link = home.find(".//span[@class='who']/a")
        assert link is not None and link.attrib["href"] == "/account"
        me = parse(client.get("/account?lang=en").text)
        assert text(me.find(".//dd[@id='account-login']")) == analyst.login
        assert text(me.find(".//dd[@id='account-roles']")) == "analyst"
        assert "optional" in text(me.find(".//p[@id='mfa-status']"))
