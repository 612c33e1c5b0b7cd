"""Clerk session tokens, end to end: real RSA keys, real HTTP to a fake Clerk."""

import logging
import threading
import time

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.cache import cache
from drf_spectacular.generators import SchemaGenerator
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from courses import clerk_keys
from courses.authentication import ClerkJWTAuthentication, ClerkUser
from courses.tests.factories import StudentFactory
from courses.tests.fakes.clerk import JWKS_PATH, USERS_PATH, generate_rsa_key

pytestmark = pytest.mark.django_db


def get_me(client, authorization=None):
    # English, so the reasons read the same once French catalogs exist.
    headers = {"Accept-Language": "en"}
    if authorization is not None:
        headers["Authorization"] = authorization
    return client.get("/api/me/", headers=headers)


def now() -> int:
    return int(time.time())


# --- Accepted ------------------------------------------------------------------


def test_valid_token_with_identity_claims_reaches_the_view(fake_clerk, api_client):
    token = fake_clerk.issue_token(
        "user_ada", email="ada@example.com", first_name="Ada", last_name="Lovelace"
    )

    response = get_me(api_client, f"Bearer {token}")

    assert response.status_code == 200
    assert response.json() == {
        "clerk_user_id": "user_ada",
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "full_name": "Ada Lovelace",
    }
    assert fake_clerk.user_fetches == 0


def test_given_name_and_family_name_claims_are_read_too(fake_clerk, api_client):
    token = fake_clerk.issue_token(
        "user_ada", email="ada@example.com", given_name="Ada", family_name="King"
    )

    response = get_me(api_client, f"Bearer {token}")

    assert response.json()["full_name"] == "Ada King"


def test_token_without_email_takes_the_primary_email_from_the_backend_api(
    fake_clerk, api_client
):
    fake_clerk.add_user(
        "user_grace",
        email="grace@example.com",
        other_emails=("old@example.com",),
        first_name="Grace",
        last_name="Hopper",
    )

    response = get_me(api_client, fake_clerk.authorization("user_grace"))

    assert response.status_code == 200
    assert response.json() == {
        "clerk_user_id": "user_grace",
        "email": "grace@example.com",
        "first_name": "Grace",
        "last_name": "Hopper",
        "full_name": "Grace Hopper",
    }
    assert fake_clerk.user_fetches == 1


def test_a_new_students_names_come_from_clerk_not_from_the_token(
    fake_clerk, api_client
):
    fake_clerk.add_user("user_grace", email="grace@example.com", first_name="G")

    response = get_me(
        api_client, fake_clerk.authorization("user_grace", first_name="Grace")
    )

    assert response.json()["email"] == "grace@example.com"
    assert response.json()["first_name"] == "G"


def test_user_with_no_email_is_still_signed_in(fake_clerk, api_client):
    fake_clerk.add_user("user_noemail", first_name="Nobody")

    response = get_me(api_client, fake_clerk.authorization("user_noemail"))

    assert response.status_code == 200
    assert response.json()["email"] == ""
    assert response.json()["first_name"] == "Nobody"


def test_without_a_secret_key_users_are_signed_in_without_email(
    fake_clerk, api_client, settings
):
    settings.CLERK_SECRET_KEY = ""

    response = get_me(api_client, fake_clerk.authorization("user_1"))

    assert response.status_code == 200
    assert response.json()["email"] == ""
    assert fake_clerk.user_fetches == 0


def test_expiry_and_not_before_allow_the_clock_skew(fake_clerk, api_client, settings):
    settings.CLERK_CLOCK_SKEW_SECONDS = 5
    just_expired = fake_clerk.issue_token(email="a@example.com", exp=now() - 2)
    almost_valid = fake_clerk.issue_token(
        email="a@example.com", nbf=now() + 2, iat=now() + 2
    )

    expired_response = get_me(api_client, f"Bearer {just_expired}")
    early_response = get_me(api_client, f"Bearer {almost_valid}")

    assert expired_response.status_code == 200
    assert early_response.status_code == 200


def test_token_without_azp_is_accepted(fake_clerk, api_client):
    token = fake_clerk.issue_token(email="a@example.com", azp=None)

    response = get_me(api_client, f"Bearer {token}")

    assert response.status_code == 200


def test_issuer_is_not_checked_when_clerk_issuer_is_empty_in_debug(
    fake_clerk, api_client, settings
):
    settings.DEBUG = True
    settings.CLERK_ISSUER = ""
    token = fake_clerk.issue_token(email="a@example.com", iss="https://other.example")

    response = get_me(api_client, f"Bearer {token}")

    assert response.status_code == 200


def test_without_clerk_issuer_and_debug_off_tokens_are_not_verified(
    fake_clerk, api_client, settings, caplog
):
    settings.DEBUG = False
    settings.CLERK_ISSUER = ""
    token = fake_clerk.issue_token(email="a@example.com")

    response = get_me(api_client, f"Bearer {token}")

    assert response.status_code == 503
    assert fake_clerk.jwks_fetches == 0
    assert "CLERK_ISSUER is not set" in caplog.text


def test_a_subject_that_is_not_a_clerk_id_never_reaches_the_backend_api(
    fake_clerk, api_client
):
    token = fake_clerk.issue_token(sub="user_1?x=../../v1/users")

    response = get_me(api_client, f"Bearer {token}")

    assert response.status_code == 401
    assert fake_clerk.user_fetches == 0


def test_a_session_token_with_typ_jwt_is_accepted(fake_clerk, api_client):
    token = fake_clerk.issue_token(email="a@example.com", headers={"typ": "JWT"})

    response = get_me(api_client, f"Bearer {token}")

    assert response.status_code == 200


def test_bearer_scheme_is_case_insensitive(fake_clerk, api_client):
    token = fake_clerk.issue_token(email="a@example.com")

    response = get_me(api_client, f"bearer {token}")

    assert response.status_code == 200


# --- Refused ----------------------------------------------------------------------


def _unknown_kid(clerk):
    return "Bearer " + clerk.issue_token(headers={"kid": "ins_not_published"})


REFUSED = {
    "alg_none": (
        lambda clerk: "Bearer " + clerk.issue_token(algorithm="none"),
        "RS256",
    ),
    "hs256_keyed_with_the_public_key": (
        lambda clerk: "Bearer " + clerk.issue_token(algorithm="HS256"),
        "RS256",
    ),
    "expired": (
        lambda clerk: "Bearer " + clerk.issue_token(exp=now() - 60, iat=now() - 120),
        "expired",
    ),
    "nbf_in_the_future": (
        lambda clerk: "Bearer " + clerk.issue_token(nbf=now() + 60),
        "not valid yet",
    ),
    "iat_in_the_future": (
        lambda clerk: "Bearer " + clerk.issue_token(iat=now() + 60),
        "not valid yet",
    ),
    "unknown_kid": (_unknown_kid, "unknown key"),
    "no_kid": (
        lambda clerk: "Bearer " + clerk.issue_token(headers={"kid": None}),
        "key id",
    ),
    "another_key_under_a_known_kid": (
        lambda clerk: "Bearer " + clerk.issue_token(signing_key=generate_rsa_key()),
        "signature",
    ),
    "tampered_payload": (
        lambda clerk: "Bearer " + clerk.tamper(clerk.issue_token(), sub="user_admin"),
        "signature",
    ),
    "wrong_issuer": (
        lambda clerk: (
            "Bearer " + clerk.issue_token(iss="https://evil.clerk.accounts.dev")
        ),
        "another Clerk instance",
    ),
    "azp_not_authorized": (
        lambda clerk: "Bearer " + clerk.issue_token(azp="https://evil.example"),
        "origin that is not authorized",
    ),
    "missing_sub": (
        lambda clerk: "Bearer " + clerk.issue_token(sub=None),
        "“sub”",
    ),
    "empty_sub": (
        lambda clerk: "Bearer " + clerk.issue_token(sub=" "),
        "does not name a user",
    ),
    "missing_exp": (
        lambda clerk: "Bearer " + clerk.issue_token(exp=None),
        "“exp”",
    ),
    "exp_not_a_number": (
        lambda clerk: "Bearer " + clerk.issue_token(exp="tomorrow"),
        "malformed",
    ),
    "missing_sid": (
        lambda clerk: "Bearer " + clerk.issue_token(sid=None),
        "“sid”",
    ),
    "empty_sid": (
        lambda clerk: "Bearer " + clerk.issue_token(sid=""),
        "“sid”",
    ),
    "oauth_access_token_type": (
        lambda clerk: "Bearer " + clerk.issue_token(headers={"typ": "at+jwt"}),
        "Only Clerk session tokens",
    ),
    "oauth_access_token_claims": (
        lambda clerk: (
            "Bearer " + clerk.issue_token(client_id="client_abc", scope="profile email")
        ),
        "Only Clerk session tokens",
    ),
    "sub_not_a_clerk_user_id": (
        lambda clerk: "Bearer " + clerk.issue_token(sub="user_1/../../v1/users"),
        "does not name a Clerk user",
    ),
    "sub_of_another_kind_of_id": (
        lambda clerk: "Bearer " + clerk.issue_token(sub="org_2abc"),
        "does not name a Clerk user",
    ),
    "audience_of_another_service": (
        lambda clerk: "Bearer " + clerk.issue_token(aud="https://other.example"),
        "audience",
    ),
    "garbage": (lambda clerk: "Bearer not-a-jwt", "malformed"),
    "garbage_in_three_parts": (lambda clerk: "Bearer aaa.bbb.ccc", "malformed"),
    "oversized": (lambda clerk: "Bearer " + "a" * 10_000, "malformed"),
    "two_tokens": (lambda clerk: "Bearer aaa bbb", "malformed"),
    "token_scheme": (lambda clerk: "Token abc123", "Bearer scheme"),
    "basic_scheme": (lambda clerk: "Basic dXNlcjpwYXNz", "Bearer scheme"),
    "bearer_with_nothing_after_it": (lambda clerk: "Bearer", "no token"),
    "bearer_and_a_space": (lambda clerk: "Bearer ", "no token"),
}


@pytest.mark.parametrize(("make_header", "reason"), REFUSED.values(), ids=REFUSED)
def test_invalid_token_is_refused_with_401_and_a_reason(
    fake_clerk, api_client, make_header, reason
):
    authorization = make_header(fake_clerk)

    response = get_me(api_client, authorization)

    assert response.status_code == 401
    assert reason in response.json()["detail"]
    assert response.headers["WWW-Authenticate"] == "Bearer"
    credential = authorization.partition(" ")[2].strip()
    if credential:
        assert credential not in response.content.decode()


def test_unknown_kid_refetches_the_jwks_once_then_is_refused(fake_clerk, api_client):
    get_me(api_client, fake_clerk.authorization(email="a@example.com"))

    first = get_me(api_client, _unknown_kid(fake_clerk))
    flood = [get_me(api_client, _unknown_kid(fake_clerk)) for _ in range(20)]

    assert first.status_code == 401
    assert "unknown key" in first.json()["detail"]
    assert {response.status_code for response in flood} == {401}
    assert fake_clerk.jwks_fetches == 2


def test_a_token_accepted_before_is_refused_once_expired(
    fake_clerk, api_client, settings
):
    settings.CLERK_CLOCK_SKEW_SECONDS = 0
    # Two to three seconds of validity: on a busy machine the first request
    # must still come in time (exp is a whole second).
    expires = now() + 3
    token = fake_clerk.issue_token(email="a@example.com", exp=expires)
    accepted = get_me(api_client, f"Bearer {token}")
    time.sleep(max(0.0, expires - time.time()) + 1.1)

    refused = get_me(api_client, f"Bearer {token}")

    assert accepted.status_code == 200
    assert refused.status_code == 401
    assert "expired" in refused.json()["detail"]


def test_a_token_accepted_before_is_checked_again_when_settings_change(
    fake_clerk, api_client, settings
):
    token = fake_clerk.issue_token(email="a@example.com")
    accepted = get_me(api_client, f"Bearer {token}")
    settings.CLERK_AUTHORIZED_PARTIES = ["https://app.example.com"]

    refused = get_me(api_client, f"Bearer {token}")

    assert accepted.status_code == 200
    assert refused.status_code == 401
    assert "origin" in refused.json()["detail"]


def test_missing_header_is_anonymous_for_drf():
    request = Request(APIRequestFactory().get("/api/courses/"))

    result = ClerkJWTAuthentication().authenticate(request)

    assert result is None


def test_missing_header_on_a_protected_endpoint_answers_401(api_client):
    response = get_me(api_client)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "detail" in response.json()


def test_deleted_clerk_user_is_refused(fake_clerk, api_client):
    response = get_me(api_client, fake_clerk.authorization("user_deleted"))

    assert response.status_code == 401
    assert "no longer exists" in response.json()["detail"]


def test_tokens_never_reach_the_logs(fake_clerk, api_client, caplog):
    caplog.set_level(logging.DEBUG)
    fake_clerk.add_user("user_1", email="a@example.com")
    tokens = [
        fake_clerk.issue_token("user_1"),
        fake_clerk.issue_token("user_1", exp=now() - 60),
        fake_clerk.issue_token("user_1", signing_key=generate_rsa_key()),
        fake_clerk.issue_token("user_1", algorithm="none"),
    ]

    for token in tokens:
        get_me(api_client, f"Bearer {token}")

    assert "Clerk session token refused" in caplog.text
    for token in tokens:
        assert token not in caplog.text
        assert token.split(".")[1] not in caplog.text
    assert fake_clerk.secret_key not in caplog.text


# --- Keys: rotation, caching, CLERK_JWT_KEY -----------------------------------------


def test_key_added_after_the_first_fetch_is_accepted_with_one_extra_fetch(
    fake_clerk, api_client
):
    before = get_me(api_client, fake_clerk.authorization(email="a@example.com"))
    fake_clerk.rotate_key()

    after = [
        get_me(api_client, fake_clerk.authorization(email="a@example.com"))
        for _ in range(10)
    ]

    assert before.status_code == 200
    assert {response.status_code for response in after} == {200}
    assert fake_clerk.jwks_fetches == 2


def test_fifty_requests_cost_one_jwks_fetch_and_one_backend_api_call(
    fake_clerk, api_client
):
    fake_clerk.add_user("user_1", email="a@example.com")

    responses = [
        get_me(api_client, fake_clerk.authorization("user_1")) for _ in range(50)
    ]

    assert {response.status_code for response in responses} == {200}
    assert fake_clerk.jwks_fetches <= 1
    assert fake_clerk.user_fetches <= 1


# The threads' connections commit the student their sign-in creates: a
# transactional test, so that the tables are emptied afterwards.
@pytest.mark.django_db(transaction=True)
def test_concurrent_cold_requests_share_one_jwks_fetch(fake_clerk, api_client):
    # A known student: the threads only read it (SQLite's test database
    # refuses concurrent writers; creating students at once is tested apart).
    StudentFactory(clerk_user_id="user_test", email="a@example.com")
    fake_clerk.set_delay(0.2, path=JWKS_PATH)
    statuses = []

    def sign_in():
        response = get_me(api_client, fake_clerk.authorization(email="a@example.com"))
        statuses.append(response.status_code)

    threads = [threading.Thread(target=sign_in) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * 8
    assert fake_clerk.jwks_fetches == 1


def _another_process_fetches_the_jwks(jwks_url: str) -> str:
    """Take the fleet-wide fetch lease as another node would; returns its key."""
    lease = clerk_keys.jwks_cache_key(jwks_url, "jwks-fetching")
    assert cache.add(lease, 1, 10)
    return lease


def test_a_process_waits_for_the_jwks_another_process_is_fetching(
    fake_clerk, api_client
):
    _another_process_fetches_the_jwks(fake_clerk.jwks_url)
    keys = fake_clerk.jwks()["keys"]
    stored = threading.Timer(
        0.3,
        clerk_keys.jwks_cache_set,
        args=(fake_clerk.jwks_url, keys),
        kwargs={"refresh_after": time.time() + 300, "fetched_at": time.time()},
    )
    stored.start()

    response = get_me(api_client, fake_clerk.authorization(email="a@example.com"))
    stored.join()

    assert response.status_code == 200
    assert fake_clerk.jwks_fetches == 0


def test_a_process_fetches_the_jwks_itself_when_the_other_fetch_gives_up(
    fake_clerk, api_client
):
    lease = _another_process_fetches_the_jwks(fake_clerk.jwks_url)
    gave_up = threading.Timer(0.3, cache.delete, args=(lease,))
    gave_up.start()

    response = get_me(api_client, fake_clerk.authorization(email="a@example.com"))
    gave_up.join()

    assert response.status_code == 200
    assert fake_clerk.jwks_fetches == 1


def test_clerk_jwt_key_verifies_without_any_network(fake_clerk, api_client, settings):
    settings.CLERK_JWT_KEY = fake_clerk.public_key_pem()
    token = fake_clerk.issue_token(email="a@example.com")
    fake_clerk.stop()

    response = get_me(api_client, f"Bearer {token}")

    assert response.status_code == 200
    assert fake_clerk.jwks_fetches == 0


@pytest.mark.parametrize("form", ["escaped_newlines", "spaces", "body_only"])
def test_clerk_jwt_key_accepts_the_pem_on_one_line(
    fake_clerk, api_client, settings, form
):
    pem = fake_clerk.public_key_pem()
    settings.CLERK_JWT_KEY = {
        "escaped_newlines": pem.replace("\n", "\\n"),
        "spaces": pem.replace("\n", " "),
        "body_only": "".join(pem.strip().splitlines()[1:-1]),
    }[form]

    response = get_me(api_client, fake_clerk.authorization(email="a@example.com"))

    assert response.status_code == 200


def test_clerk_jwt_key_refuses_a_token_signed_by_another_key(
    fake_clerk, api_client, settings
):
    settings.CLERK_JWT_KEY = fake_clerk.public_key_pem()
    token = fake_clerk.issue_token(signing_key=generate_rsa_key())

    response = get_me(api_client, f"Bearer {token}")

    assert response.status_code == 401
    assert "signature" in response.json()["detail"]


def _private_key_pem(clerk):
    return (
        clerk.private_key()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


@pytest.mark.parametrize(
    "make_key", [lambda clerk: "not a key", _private_key_pem], ids=["junk", "private"]
)
def test_unreadable_clerk_jwt_key_answers_503(
    fake_clerk, api_client, settings, make_key
):
    settings.CLERK_JWT_KEY = make_key(fake_clerk)

    response = get_me(api_client, fake_clerk.authorization(email="a@example.com"))

    assert response.status_code == 503
    assert "not configured" in response.json()["detail"]


def test_no_key_source_configured_answers_503(fake_clerk, api_client, settings):
    settings.CLERK_JWKS_URL = ""

    response = get_me(api_client, fake_clerk.authorization(email="a@example.com"))

    assert response.status_code == 503
    assert "not configured" in response.json()["detail"]


# --- Outages ------------------------------------------------------------------------


def test_jwks_unreachable_with_a_cold_cache_answers_503(fake_clerk, api_client):
    token = fake_clerk.issue_token(email="a@example.com")
    fake_clerk.stop()

    response = get_me(api_client, f"Bearer {token}")

    assert response.status_code == 503
    assert "Clerk is unreachable" in response.json()["detail"]


def test_jwks_unreachable_with_a_warm_cache_keeps_working(fake_clerk, api_client):
    fake_clerk.add_user("user_1", email="a@example.com")
    get_me(api_client, fake_clerk.authorization("user_1"))
    fake_clerk.stop()

    responses = [
        get_me(api_client, fake_clerk.authorization("user_1")) for _ in range(5)
    ]

    assert {response.status_code for response in responses} == {200}


@pytest.mark.parametrize("status", [500, 429, 404])
def test_jwks_answering_an_error_with_a_cold_cache_answers_503(
    fake_clerk, api_client, status
):
    fake_clerk.fail(status, path=JWKS_PATH)

    response = get_me(api_client, fake_clerk.authorization(email="a@example.com"))

    assert response.status_code == 503


def test_jwks_without_usable_keys_answers_503(fake_clerk, api_client):
    fake_clerk.unpublish_key(fake_clerk.kid)

    response = get_me(api_client, fake_clerk.authorization(email="a@example.com"))

    assert response.status_code == 503


def test_slow_jwks_is_abandoned_after_the_timeout(fake_clerk, api_client, settings):
    settings.CLERK_HTTP_TIMEOUT_SECONDS = 0.3
    fake_clerk.set_delay(5, path=JWKS_PATH)
    started = time.monotonic()

    response = get_me(api_client, fake_clerk.authorization(email="a@example.com"))

    assert response.status_code == 503
    assert time.monotonic() - started < 3


def test_backend_api_unreachable_with_a_cold_cache_answers_503(fake_clerk, api_client):
    fake_clerk.add_user("user_1", email="a@example.com")
    get_me(api_client, fake_clerk.authorization("user_2", email="b@example.com"))
    fake_clerk.fail(502, path=USERS_PATH)

    response = get_me(api_client, fake_clerk.authorization("user_1"))

    assert response.status_code == 503
    assert "Clerk is unreachable" in response.json()["detail"]


def test_backend_api_unreachable_with_a_warm_cache_keeps_working(
    fake_clerk, api_client
):
    fake_clerk.add_user("user_1", email="a@example.com")
    get_me(api_client, fake_clerk.authorization("user_1"))
    fake_clerk.stop()

    response = get_me(api_client, fake_clerk.authorization("user_1"))

    assert response.status_code == 200
    assert response.json()["email"] == "a@example.com"


def test_slow_backend_api_is_abandoned_after_the_timeout(
    fake_clerk, api_client, settings
):
    settings.CLERK_HTTP_TIMEOUT_SECONDS = 0.3
    fake_clerk.add_user("user_1", email="a@example.com")
    fake_clerk.set_delay(5, path=USERS_PATH)
    started = time.monotonic()

    response = get_me(api_client, fake_clerk.authorization("user_1"))

    assert response.status_code == 503
    assert time.monotonic() - started < 3


def test_wrong_secret_key_answers_503_not_401(fake_clerk, api_client, settings):
    settings.CLERK_SECRET_KEY = "sk_test_wrong"
    fake_clerk.add_user("user_1", email="a@example.com")

    response = get_me(api_client, fake_clerk.authorization("user_1"))

    assert response.status_code == 503


def test_service_recovers_when_clerk_comes_back(fake_clerk, api_client):
    token = fake_clerk.issue_token(email="a@example.com")
    fake_clerk.stop()
    down = get_me(api_client, f"Bearer {token}")

    fake_clerk.start()
    up = get_me(api_client, f"Bearer {token}")

    assert down.status_code == 503
    assert up.status_code == 200


# --- ClerkUser and the schema -------------------------------------------------------


def test_clerk_user_pk_is_the_clerk_id_for_throttles():
    user = ClerkUser(clerk_user_id="user_1", email="a@example.com")

    assert user.pk == "user_1"
    assert user.is_authenticated
    assert user.full_name == ""


def test_schema_documents_me_with_the_bearer_scheme():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    operation = schema["paths"]["/api/me/"]["get"]
    scheme = schema["components"]["securitySchemes"]["ClerkBearer"]
    assert {"ClerkBearer": []} in operation["security"]
    assert scheme["scheme"] == "bearer"
    assert "200" in operation["responses"]
