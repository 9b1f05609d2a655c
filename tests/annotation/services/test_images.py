"""Image ingestion: EXIF-oriented sizes, metadata, and a recorded reason for every refusal."""

from __future__ import annotations

import http.server
import io
import threading
from pathlib import Path

import PIL.Image
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError

from annotation.models import Image, ImageRejection
from annotation.services.images import SourceMetadata, image_ingest, image_ingest_ref
from tests.conftest import jpeg_bytes

DEMO_PHOTOS = Path(__file__).resolve().parents[3] / "demo"


def meta(name: str = "photo.jpg", **extra) -> SourceMetadata:  # type: ignore[no-untyped-def]
    return SourceMetadata(
        source=Image.Source.PATH, source_ref=f"/in/{name}", file_name=name, **extra
    )


def rotated_jpeg() -> bytes:
    """A 64x48 JPEG whose EXIF says 'rotate 90° clockwise' (orientation 6): shown 48x64."""
    exif = PIL.Image.Exif()
    exif[0x0112] = 6
    exif[0x013B] = "Ansel Adams"
    return jpeg_bytes(64, 48, exif=exif.tobytes())


@pytest.mark.django_db
class TestImageIngest:
    def test_a_photo_is_stored_with_its_size_checksum_and_metadata(self, coco_project):
        content = jpeg_bytes(64, 48)
        result = image_ingest(
            project=coco_project,
            content=content,
            meta=meta(photographer="Jo", license_name="CC BY 2.0"),
        )
        image = result.image
        assert image is not None and (image.width, image.height) == (64, 48)
        assert image.photographer == "Jo" and image.license_name == "CC BY 2.0"
        assert len(image.checksum_sha256) == 64
        with default_storage.open(image.file.name) as stored:
            assert stored.read() == content, "the original bytes are kept, not re-encoded"
        checksum = image.checksum_sha256
        assert image.file.name == f"images/{coco_project.id}/{checksum[:2]}/{checksum}.jpg"

    def test_width_and_height_follow_exif_orientation(self, coco_project):
        image = image_ingest(project=coco_project, content=rotated_jpeg(), meta=meta()).image
        assert (image.width, image.height) == (48, 64)
        assert image.photographer == "Ansel Adams", "EXIF Artist fills a blank photographer"

    def test_a_duplicate_is_refused_and_points_at_the_original(self, coco_project):
        content = jpeg_bytes()
        first = image_ingest(project=coco_project, content=content, meta=meta("a.jpg")).image
        second = image_ingest(project=coco_project, content=content, meta=meta("b.jpg"))
        assert second.image is None
        assert second.rejection.reason == ImageRejection.Reason.DUPLICATE
        assert second.rejection.duplicate_of == first
        assert Image.objects.count() == 1

    def test_a_text_file_is_refused_as_not_an_image(self, coco_project):
        result = image_ingest(
            project=coco_project, content=b"hello, not a photo", meta=meta("notes.jpg")
        )
        assert result.rejection.reason == ImageRejection.Reason.NOT_AN_IMAGE
        assert ImageRejection.objects.get().source_ref == "/in/notes.jpg"

    def test_a_truncated_jpeg_is_refused(self, coco_project):
        content = jpeg_bytes(400, 300, color=(10, 200, 90))
        result = image_ingest(
            project=coco_project, content=content[: len(content) // 2], meta=meta()
        )
        assert result.rejection.reason == ImageRejection.Reason.TRUNCATED
        assert Image.objects.count() == 0

    def test_a_decompression_bomb_is_refused(self, coco_project, settings):
        settings.MAX_IMAGE_PIXELS = 1000
        buffer = io.BytesIO()
        PIL.Image.new("L", (40, 40)).save(buffer, "PNG")  # 1,600 pixels: over the limit
        result = image_ingest(
            project=coco_project, content=buffer.getvalue(), meta=meta("bomb.png")
        )
        assert result.rejection.reason == ImageRejection.Reason.DECOMPRESSION_BOMB

    def test_an_unreadable_path_is_recorded(self, coco_project, tmp_path):
        missing = SourceMetadata(
            source=Image.Source.PATH, source_ref=str(tmp_path / "nope.jpg"), file_name="nope.jpg"
        )
        result = image_ingest_ref(project=coco_project, meta=missing)
        assert result.rejection.reason == ImageRejection.Reason.UNREADABLE


class PhotoServer(http.server.BaseHTTPRequestHandler):
    photo = jpeg_bytes(32, 32, color=(1, 2, 3))

    def do_GET(self) -> None:
        if self.path == "/photo.jpg":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.end_headers()
            self.wfile.write(self.photo)
        else:
            self.send_error(404, "Not Found")

    def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
        pass


@pytest.fixture
def photo_server():  # type: ignore[no-untyped-def]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), PhotoServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.django_db
class TestImportImagesCommand:
    def test_a_folder_with_good_bad_and_duplicate_files(self, coco_project, tmp_path, capsys):
        (tmp_path / "a.jpg").write_bytes(jpeg_bytes(10, 10, color=(1, 1, 1)))
        (tmp_path / "sub").mkdir()
        (tmp_path / "sub" / "b.jpg").write_bytes(jpeg_bytes(20, 10, color=(2, 2, 2)))
        (tmp_path / "copy.jpg").write_bytes(jpeg_bytes(10, 10, color=(1, 1, 1)))
        (tmp_path / "readme.txt").write_text("not a photo")
        call_command(
            "import_images",
            "--project",
            coco_project.slug,
            "--folder",
            str(tmp_path),
            "--no-progress",
        )
        out = capsys.readouterr().out
        assert "Imported 2 image(s)" in out and "rejected 2 (1 duplicate, 1 not_an_image)" in out
        assert sorted(Image.objects.values_list("file_name", flat=True)) == ["a.jpg", "sub/b.jpg"]

    def test_the_bundled_demo_list_with_metadata(self, coco_project):
        call_command(
            "import_images",
            "--project",
            coco_project.slug,
            "--list",
            str(DEMO_PHOTOS / "photos.csv"),
            "--no-progress",
        )
        assert Image.objects.count() == 7
        china = Image.objects.get(file_name="china.jpg")
        assert china.photographer == "danielbuechele" and china.license_name == "CC BY 2.0"
        assert china.original_url.startswith("https://www.flickr.com/photos/danielbuechele/")

    def test_urls_are_downloaded_and_http_errors_recorded(
        self, coco_project, tmp_path, photo_server
    ):
        url_list = tmp_path / "urls.txt"
        url_list.write_text(f"# photos\n{photo_server}/photo.jpg\n\n{photo_server}/gone.jpg\n")
        call_command(
            "import_images",
            "--project",
            coco_project.slug,
            "--list",
            str(url_list),
            "--no-progress",
        )
        image = Image.objects.get()
        assert (
            image.original_url == f"{photo_server}/photo.jpg" and image.source == Image.Source.URL
        )
        rejection = ImageRejection.objects.get()
        assert (
            rejection.reason == ImageRejection.Reason.UNREADABLE and "HTTP 404" in rejection.detail
        )

    def test_an_unknown_project_is_a_clear_error(self, tmp_path):
        with pytest.raises(CommandError, match="no project 'nope'"):
            call_command("import_images", "--project", "nope", "--folder", str(tmp_path))

    def test_a_csv_without_a_location_column_is_refused(self, coco_project, tmp_path):
        bad = tmp_path / "list.csv"
        bad.write_text("url,photographer\nhttp://x/y.jpg,me\n")
        with pytest.raises(CommandError, match="'location' column"):
            call_command("import_images", "--project", coco_project.slug, "--list", str(bad))


@pytest.mark.django_db
def test_an_svg_with_a_script_is_refused_as_not_an_image(coco_project):
    """Photos are raster images that Pillow opens: an SVG (which a browser would run the
    script of if it were served as image/svg+xml) is refused and nothing is stored."""
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48">'
        b"<script>fetch('/api/v1/me/').then(r => r.text()).then(alert)</script></svg>"
    )
    result = image_ingest(project=coco_project, content=svg, meta=meta("photo.svg"))
    assert result.image is None
    assert result.rejection.reason == ImageRejection.Reason.NOT_AN_IMAGE
    assert Image.objects.count() == 0
