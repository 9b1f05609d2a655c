"""Projects and taxonomies: the seeded COCO template and user-defined categories."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotation.coco_taxonomy import COCO_TEMPLATE_SLUG
from annotation.errors import DomainError
from annotation.models import Category, Project, Taxonomy
from annotation.services.projects import project_create

RELEASED_GT = "tests/fixtures/foundation/instances_val2014_100_categories.json"


@pytest.mark.django_db
class TestCocoTemplate:
    def test_the_migration_seeds_91_categories_with_official_ids(self):
        template = Taxonomy.objects.get(slug=COCO_TEMPLATE_SLUG, is_template=True)
        ids = list(template.categories.values_list("coco_id", flat=True))
        assert ids == list(range(1, 92))
        assert template.categories.filter(in_coco_2014=True).count() == 80

    def test_the_80_released_categories_match_the_released_annotation_file(self):
        with open(RELEASED_GT) as handle:
            released = {
                (c["id"], c["name"], c["supercategory"]) for c in json.load(handle)["categories"]
            }
        template = Taxonomy.objects.get(slug=COCO_TEMPLATE_SLUG)
        ours = set(
            template.categories.filter(in_coco_2014=True).values_list(
                "coco_id", "name", "supercategory"
            )
        )
        assert ours == released

    def test_the_omitted_categories_are_those_of_table_b1(self):
        template = Taxonomy.objects.get(slug=COCO_TEMPLATE_SLUG)
        omitted = set(template.categories.filter(in_coco_2014=False).values_list("name", flat=True))
        assert omitted == {"street sign", "hat", "shoe", "eye glasses", "plate", "mirror",
                           "window", "desk", "door", "blender", "hair brush"}  # fmt: skip

    def test_40_scenes_evenly_split_indoor_and_outdoor(self):
        template = Taxonomy.objects.get(slug=COCO_TEMPLATE_SLUG)
        assert template.scenes.filter(indoor=True).count() == 20
        assert template.scenes.filter(indoor=False).count() == 20
        assert template.scenes.filter(name="child's room", indoor=True).exists()


@pytest.mark.django_db
class TestProjectCreate:
    def test_a_project_from_the_template_gets_its_own_copy(self):
        project = project_create(name="Street scenes", template="coco")
        assert project.taxonomy.categories.count() == 91
        assert project.taxonomy.scenes.count() == 40
        project.taxonomy.categories.filter(coco_id=1).update(name="pedestrian")
        template = Taxonomy.objects.get(slug=COCO_TEMPLATE_SLUG, is_template=True)
        assert template.categories.get(coco_id=1).name == "person"

    def test_own_categories_keep_their_ids_or_take_their_order(self):
        project = project_create(
            name="Birds",
            categories=[{"name": "heron", "supercategory": "bird"}, {"name": "gull", "id": 7}],
        )
        rows = list(project.taxonomy.categories.values_list("coco_id", "name", "supercategory"))
        assert rows == [(1, "heron", "bird"), (7, "gull", "gull")]

    @pytest.mark.parametrize(
        ("categories", "reason"),
        [
            ([], "at least one category"),
            ([{"name": "a"}, {"name": "a"}], "used twice"),
            ([{"name": "a", "id": 0}], "start at 1"),
            ([{"name": "a", "id": 3}, {"name": "b", "id": 3}], "id 3 is used twice"),
            ([{"name": "a", "id": "three"}], "not a whole number"),
            ([{"supercategory": "x"}], "name is missing"),
        ],
    )
    def test_bad_category_lists_are_refused_with_a_reason(self, categories, reason):
        with pytest.raises(DomainError, match=reason):
            project_create(name="Bad", categories=categories)
        assert not Project.objects.filter(name="Bad").exists()
        assert not Taxonomy.objects.filter(slug="bad").exists(), "nothing is half-created"

    def test_an_unknown_template_is_named(self):
        with pytest.raises(DomainError, match="no taxonomy template 'imagenet'"):
            project_create(name="X", template="imagenet")

    def test_a_duplicate_name_is_refused(self, coco_project):
        with pytest.raises(DomainError, match="already exists"):
            project_create(name=coco_project.name, template="coco")


@pytest.mark.django_db
class TestCreateProjectCommand:
    def test_from_a_csv_of_own_categories(self, tmp_path, capsys):
        spec = tmp_path / "cats.csv"
        spec.write_text("name,supercategory,id\nheron,bird,3\ngull,bird,5\n")
        call_command("create_project", "Coast", "--categories", str(spec))
        project = Project.objects.get(name="Coast")
        assert list(project.taxonomy.categories.values_list("coco_id", "name")) == [
            (3, "heron"),
            (5, "gull"),
        ]
        assert "with 2 categories" in capsys.readouterr().out

    def test_from_a_coco_file(self, tmp_path):
        spec = tmp_path / "instances.json"
        spec.write_text(
            json.dumps({"categories": [{"id": 18, "name": "dog", "supercategory": "animal"}]})
        )
        call_command("create_project", "Dogs", "--categories", str(spec))
        assert Category.objects.get(taxonomy__project__name="Dogs").coco_id == 18

    def test_a_bad_file_is_a_clear_cli_error(self, tmp_path):
        spec = tmp_path / "cats.json"
        spec.write_text("{not json")
        with pytest.raises(CommandError, match="not valid JSON"):
            call_command("create_project", "Broken", "--categories", str(spec))
