"""A lighter board on the wire: HTML gzipped, static files hashed, pre-compressed and cached forever."""

from __future__ import annotations

import gzip

import pytest
from django.core.management import call_command
from django.templatetags.static import static
from django.test import override_settings
from whitenoise.middleware import WhiteNoiseMiddleware

from tests.leads.factories import LeadFactory, staff_user

pytestmark = pytest.mark.django_db

MANIFEST = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


def test_the_board_html_is_gzipped_for_a_browser_that_accepts_it(client):
    LeadFactory.create_batch(30)
    client.force_login(staff_user("owner"))
    plain = client.get("/board/")
    packed = client.get("/board/", headers={"accept-encoding": "gzip, deflate, br"})
    assert "Content-Encoding" not in plain and packed["Content-Encoding"] == "gzip"
    html = gzip.decompress(packed.content)
    assert b'class="columns"' in html
    assert len(packed.content) < len(plain.content) / 3
    assert "Accept-Encoding" in packed["Vary"]


def test_collected_static_files_are_hashed_and_precompressed(tmp_path):
    with override_settings(STATIC_ROOT=tmp_path, STORAGES=MANIFEST):
        call_command("collectstatic", interactive=False, verbosity=0)
        url = static("board/board.css")
        # Served with `Cache-Control: max-age=315360000, public, immutable`: the name changes
        # whenever the content does.
        middleware = WhiteNoiseMiddleware(get_response=lambda request: None)
        assert middleware.immutable_file_test(str(tmp_path / url.removeprefix("/static/")), url)
    assert url.startswith("/static/board/board.") and url.endswith(".css") and url != "/static/board/board.css"
    hashed = tmp_path / url.removeprefix("/static/")
    assert hashed.exists() and (tmp_path / (url.removeprefix("/static/") + ".gz")).exists()
    assert (tmp_path / "staticfiles.json").exists()
