"""French by default (the tutorial's language), English via Accept-Language."""

import gettext
from pathlib import Path

import pytest
from django.utils import translation

from courses.models import Course, Enrollment
from courses.tests.factories import CourseFactory

pytestmark = pytest.mark.django_db

LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"


def test_error_detail_is_french_by_default_and_english_on_request(api_client):
    french = api_client.get("/api/courses/424242/")
    english = api_client.get("/api/courses/424242/", HTTP_ACCEPT_LANGUAGE="en")

    assert french.json() == {"detail": "Cours introuvable."}
    assert french["Content-Language"] == "fr"
    assert english.json() == {"detail": "Course not found."}
    assert english["Content-Language"] == "en"


def test_json_404_outside_the_views_follows_the_language(api_client):
    french = api_client.get("/api/nowhere/")
    english = api_client.get("/api/nowhere/", HTTP_ACCEPT_LANGUAGE="en-CA,en;q=0.9")

    assert french.json() == {"detail": "Non trouvé."}
    assert english.json() == {"detail": "Not found."}


def test_validation_messages_follow_the_language(api_client):
    CourseFactory()

    french = api_client.get("/api/courses/?page_size=500")
    english = api_client.get("/api/courses/?page_size=500", HTTP_ACCEPT_LANGUAGE="en")

    assert french.json() == {"page_size": ["Saisissez un nombre entier de 1 à 100."]}
    assert english.json() == {"page_size": ["Enter a whole number from 1 to 100."]}


def test_an_unsupported_language_falls_back_to_french(api_client):
    response = api_client.get("/api/courses/424242/", HTTP_ACCEPT_LANGUAGE="de")

    assert response.json() == {"detail": "Cours introuvable."}


def test_model_names_are_the_tutorials_in_french():
    with translation.override("fr"):
        names = [
            str(Course._meta.verbose_name),
            str(Course._meta.get_field("title").verbose_name),
            str(Course._meta.get_field("instructor_name").verbose_name),
            str(Enrollment._meta.verbose_name_plural),
            str(Enrollment._meta.get_field("is_paid").verbose_name),
        ]

    assert names == [
        "Cours",
        "Titre du cours",
        "Nom de l\u2019instructeur",
        "Inscriptions",
        "Payé",
    ]


@pytest.mark.parametrize("language", ["fr", "en"])
def test_compiled_catalog_matches_the_source_and_translates_everything(language):
    po_file = LOCALE_DIR / language / "LC_MESSAGES" / "django.po"
    mo_file = po_file.with_suffix(".mo")
    source = po_file.read_text(encoding="utf-8")

    with mo_file.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)

    msgids = source.count("\nmsgid ") - 1  # minus the header
    assert msgids > 50
    # A plural entry is compiled under one key per form: (msgid, 0), (msgid, 1).
    compiled_ids = {k[0] if isinstance(k, tuple) else k for k in compiled._catalog}
    assert len(compiled_ids) - 1 == msgids
    assert 'msgstr ""\n\n' not in source
    assert compiled.gettext("Course not found.") == (
        "Cours introuvable." if language == "fr" else "Course not found."
    )
