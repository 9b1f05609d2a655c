"""import_images: photos that enter outside collection get a split by collection's rules."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from annotation.models import Image
from tests.conftest import jpeg_bytes

COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30), (30, 200, 200),
           (200, 30, 200), (120, 120, 120), (250, 250, 250)]  # fmt: skip


@pytest.mark.django_db
def test_imported_photos_get_a_split_and_a_photographer_day_stays_in_one(coco_project, tmp_path):
    rows = ["location,photographer,date_taken"]
    for number, colour in enumerate(COLOURS):
        (tmp_path / f"{number}.jpg").write_bytes(jpeg_bytes(40, 30, colour))
        # Photos 0-3: one photographer on one day; 4-7: four different photographers.
        who = "ann" if number < 4 else f"person{number}"
        rows.append(f"{number}.jpg,{who},2014-05-0{1 + number % 2}T10:0{number}:00+00:00")
    # ann's photos are on two days (1 and 2 May): two photographer-days of two photos each.
    listing = tmp_path / "photos.csv"
    listing.write_text("\n".join(rows) + "\n")
    out = io.StringIO()
    call_command("import_images", "--project", coco_project.slug, "--list", str(listing),
                 "--no-progress", stdout=out)  # fmt: skip
    images = {i.file_name: i for i in Image.objects.filter(project=coco_project)}
    assert len(images) == 8
    assert all(image.split in ("train", "val", "test") for image in images.values())
    assert images["0.jpg"].split == images["2.jpg"].split  # ann, 1 May
    assert images["1.jpg"].split == images["3.jpg"].split  # ann, 2 May
    assert "Gave 8 image(s) a split" in out.getvalue()


@pytest.mark.django_db
def test_an_uploaded_photo_gets_a_split(api_client, admin_user, coco_project):
    api_client.force_authenticate(admin_user)
    response = api_client.post(
        f"/api/v1/projects/{coco_project.id}/images/",
        {"file": SimpleUploadedFile("a.jpg", jpeg_bytes(30, 20)), "photographer": "Mo"},
    )
    assert response.status_code == 201 and response.json()["split"] in ("train", "val", "test")
    assert Image.objects.get().split == response.json()["split"]
