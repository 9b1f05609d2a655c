from django.db import models


class Taxonomy(models.Model):
    """A set of object categories (and scene categories for image search).

    Templates (the seeded COCO taxonomy) are copied into a project when it is created, so a
    project can edit its own categories without touching the template or other projects.
    """

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200)
    description = models.TextField(blank=True)
    is_template = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "taxonomies"
        constraints = [
            models.UniqueConstraint(
                fields=["slug"], condition=models.Q(is_template=True), name="unique_template_slug"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} (template)" if self.is_template else self.name


class Category(models.Model):
    """An object category. `coco_id` is the id written to COCO JSON: the official ids
    (1-91, with the 2014 release's gaps) for the COCO template, stable ids for custom ones."""

    taxonomy = models.ForeignKey(Taxonomy, on_delete=models.CASCADE, related_name="categories")
    coco_id = models.PositiveIntegerField()
    name = models.CharField(max_length=100)
    supercategory = models.CharField(max_length=100)
    # The 2014 release annotated 80 of COCO's 91 categories (thesis Table B.1).
    in_coco_2014 = models.BooleanField(default=True)
    icon = models.CharField(max_length=200, blank=True, help_text="Icon file name or emoji")

    class Meta:
        ordering = ["taxonomy_id", "coco_id"]
        verbose_name_plural = "categories"
        constraints = [
            models.UniqueConstraint(fields=["taxonomy", "coco_id"], name="unique_category_id"),
            models.UniqueConstraint(fields=["taxonomy", "name"], name="unique_category_name"),
            models.CheckConstraint(condition=models.Q(coco_id__gte=1), name="category_id_ge_1"),
        ]

    def __str__(self) -> str:
        return f"{self.coco_id}: {self.name} ({self.supercategory})"


class SceneCategory(models.Model):
    """A scene used with an object category in image-search queries (thesis Table B.2)."""

    taxonomy = models.ForeignKey(Taxonomy, on_delete=models.CASCADE, related_name="scenes")
    name = models.CharField(max_length=100)
    indoor = models.BooleanField()

    class Meta:
        ordering = ["taxonomy_id", "id"]
        verbose_name_plural = "scene categories"
        constraints = [
            models.UniqueConstraint(fields=["taxonomy", "name"], name="unique_scene_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({'indoor' if self.indoor else 'outdoor'})"
