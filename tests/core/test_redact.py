"""The one redactor on its own: `redact()` for URLs in a text, and the `Redactor` logging filter
with a channel's secrets, in every form a secret takes in a log line or an error."""

from __future__ import annotations

import base64
import logging
from urllib.parse import quote, quote_plus

import pytest

from inferwatch.core.redact import MASK, Redactor, install, redact, secret_parts

PASSWORD = "s3cr3t/p@ss+w0rd"  # characters that URLs percent-encode
TOKEN = "tok-9f8e7d6c5b4a"
URL = (f"json://alice:{quote(PASSWORD, safe='')}@hooks.example.com/hook"
       f"?+Authorization=Bearer%20{TOKEN}&-apikey=k-0123456789")


def redactor(*secrets: str) -> Redactor:
    r = Redactor()
    r.add(p for s in secrets for p in secret_parts(s))
    return r


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


# --- redact(): URLs in any text --------------------------------------------------------------

@pytest.mark.parametrize("text, leaked", [
    ("GET http://bob:hunter22@10.0.0.1:8000/metrics failed", "hunter22"),
    ("https://bob:hunter22@h/p?x=1 and http://eve:pw9999@h2/", "pw9999"),
    ("http://bob:hunter22@h/", "bob"),  # the user name goes with the password
    ("http://bob:hun%40ter22@h/", "ter22"),  # percent-encoded in the userinfo
    ("http://bob:hun@ter22@h/", "ter22"),  # an unencoded @ in it
    ("HTTPS://Bob:Hunter22@H/", "Hunter22"),
    ("https://h/api?token=abc123xyz&x=1", "abc123xyz"),  # a query parameter
    ("https://h/api#access_token=abc123xyz", "abc123xyz"),  # a fragment
    ("'https://h/api?key=abc123xyz'", "abc123xyz"),  # quoted
    ("next=http%3A%2F%2Fbob%3Ahunter22%40h%2Fp", "hunter22"),  # a percent-encoded URL
    ("next=https%3a%2f%2fh%2fp%3ftoken%3dabc123xyz", "abc123xyz"),  # ... with its query
    ("Authorization: Bearer abc123xyz", "abc123xyz"),
    ("Bearer abc123xyz", "abc123xyz"),  # a lone one
    (f"Authorization: Basic {basic('bob', 'hunter22')}", basic("bob", "hunter22")),
])
def test_redact_leaves_no_secret(text: str, leaked: str) -> None:
    clean = redact(text)
    assert leaked not in clean, clean


def test_redact_keeps_what_is_not_secret() -> None:
    text = "scrape of http://10.0.0.1:8000/metrics failed: Basic setup complete"
    assert redact(text) == text
    assert redact("http://bob:hunter22@h:1/p?q=1") == "http://h:1/p"


# --- Redactor: known secrets, in every form ---------------------------------------------------

def forms() -> list[tuple[str, str]]:
    """(how the secret appears, the text) for URL's secrets."""
    return [
        ("plain password", f"login failed for {PASSWORD}"),
        ("percent-encoded", f"POST json://alice:{quote(PASSWORD, safe='')}@hooks/…"),
        ("lower-case percent-encoding", quote(PASSWORD, safe="").lower()),
        ("form-encoded", f"body: password={quote_plus(PASSWORD)}"),
        ("basic auth header", f"headers={{'Authorization': 'Basic {basic('alice', PASSWORD)}'}}"),
        ("bearer header", f"+Authorization: Bearer {TOKEN}"),
        ("lone bearer token", f"Bearer {TOKEN}"),
        ("bare token", f"token {TOKEN} refused"),
        ("query parameter value", "apikey=k-0123456789"),
        ("the whole url", URL),
    ]


@pytest.mark.parametrize("how, text", forms(), ids=[f[0] for f in forms()])
def test_known_secrets_are_masked_in_every_form(how: str, text: str) -> None:
    clean = redactor(URL).redact(text)
    for secret in (PASSWORD, quote(PASSWORD, safe=""), TOKEN, "k-0123456789",
                   basic("alice", PASSWORD), quote_plus(PASSWORD)):
        assert secret not in clean and secret.lower() not in clean.lower(), (how, clean)
    assert MASK in clean


def test_unknown_bearer_and_basic_are_masked_too() -> None:
    r = Redactor()
    assert r.redact("Bearer abc.def-ghi") == f"Bearer {MASK}"
    assert r.redact(f"Basic {basic('x', 'y-secret')}") == f"Basic {MASK}"
    assert r.redact("Basic setup complete") == "Basic setup complete"


def test_any_url_masked_on_url_loggers() -> None:
    assert redactor().redact("calling slack://T000/B000/XXXX now", urls=True) == \
        f"calling slack://{MASK} now"


# --- the logging filter -------------------------------------------------------------------------

def record(msg: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("inferwatch.notifier.delivery", logging.ERROR, __file__, 1, msg,
                             args, info)


def test_filter_masks_message_args_and_tracebacks() -> None:
    r = redactor(URL)
    rec = record("sending to %s with %s", URL, f"Bearer {TOKEN}")
    assert r.filter(rec) is True  # never drops a record
    assert TOKEN not in rec.getMessage() and PASSWORD not in rec.getMessage()
    try:
        raise ConnectionError(f"refused: {URL} ({basic('alice', PASSWORD)})")
    except ConnectionError as err:
        rec = record("delivery crashed", exc=err)
    r.filter(rec)
    text = logging.Formatter().format(rec)
    assert "Traceback" in text and "ConnectionError" in text
    for secret in (TOKEN, quote(PASSWORD, safe=""), basic("alice", PASSWORD)):
        assert secret not in text, text


def test_filter_masks_an_exc_text_formatted_before_it() -> None:
    r = redactor(URL)
    rec = record("boom")
    rec.exc_text = f"Traceback (most recent call last):\nValueError: {PASSWORD} in Bearer {TOKEN}"
    r.filter(rec)
    assert PASSWORD not in rec.exc_text and TOKEN not in rec.exc_text


def test_filter_masks_stack_info() -> None:
    r = redactor(URL)
    rec = record("x")
    rec.stack_info = f"Stack (most recent call last):\n  url = {URL!r}"
    r.filter(rec)
    assert TOKEN not in rec.stack_info


def test_install_covers_loggers_and_handlers(caplog) -> None:
    secret = "json://hooks.example.com/h?+X-Token=zz-install-secret-1"
    install([secret])
    caplog.set_level(logging.DEBUG)
    install([])  # attaches the filter to handlers added since (caplog's)
    logging.getLogger("inferwatch.notifier.later_module").warning("token zz-install-secret-1")
    logging.getLogger("apprise").debug("POST https://api.example.com/x?y=zz-install-secret-1")
    assert "zz-install-secret-1" not in caplog.text
    assert caplog.text.count(MASK) == 2
