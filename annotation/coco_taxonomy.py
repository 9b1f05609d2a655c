"""The COCO taxonomy (thesis Fig. A.2, Tables B.1 and B.2).

91 object categories with their official ids: the released annotation files use ids 1-90
with gaps for the 11 categories the 2014 release omitted (marked False below); 91 (hair
brush) was never released. Super-category names are those of the released files.
The 40 scene categories of Table B.2 are evenly split between indoor and outdoor.
"""

# (official id, name, super-category, annotated in the 2014 release)
COCO_CATEGORIES: list[tuple[int, str, str, bool]] = [
    (1, "person", "person", True),
    (2, "bicycle", "vehicle", True),
    (3, "car", "vehicle", True),
    (4, "motorcycle", "vehicle", True),
    (5, "airplane", "vehicle", True),
    (6, "bus", "vehicle", True),
    (7, "train", "vehicle", True),
    (8, "truck", "vehicle", True),
    (9, "boat", "vehicle", True),
    (10, "traffic light", "outdoor", True),
    (11, "fire hydrant", "outdoor", True),
    (12, "street sign", "outdoor", False),
    (13, "stop sign", "outdoor", True),
    (14, "parking meter", "outdoor", True),
    (15, "bench", "outdoor", True),
    (16, "bird", "animal", True),
    (17, "cat", "animal", True),
    (18, "dog", "animal", True),
    (19, "horse", "animal", True),
    (20, "sheep", "animal", True),
    (21, "cow", "animal", True),
    (22, "elephant", "animal", True),
    (23, "bear", "animal", True),
    (24, "zebra", "animal", True),
    (25, "giraffe", "animal", True),
    (26, "hat", "accessory", False),
    (27, "backpack", "accessory", True),
    (28, "umbrella", "accessory", True),
    (29, "shoe", "accessory", False),
    (30, "eye glasses", "accessory", False),
    (31, "handbag", "accessory", True),
    (32, "tie", "accessory", True),
    (33, "suitcase", "accessory", True),
    (34, "frisbee", "sports", True),
    (35, "skis", "sports", True),
    (36, "snowboard", "sports", True),
    (37, "sports ball", "sports", True),
    (38, "kite", "sports", True),
    (39, "baseball bat", "sports", True),
    (40, "baseball glove", "sports", True),
    (41, "skateboard", "sports", True),
    (42, "surfboard", "sports", True),
    (43, "tennis racket", "sports", True),
    (44, "bottle", "kitchen", True),
    (45, "plate", "kitchen", False),
    (46, "wine glass", "kitchen", True),
    (47, "cup", "kitchen", True),
    (48, "fork", "kitchen", True),
    (49, "knife", "kitchen", True),
    (50, "spoon", "kitchen", True),
    (51, "bowl", "kitchen", True),
    (52, "banana", "food", True),
    (53, "apple", "food", True),
    (54, "sandwich", "food", True),
    (55, "orange", "food", True),
    (56, "broccoli", "food", True),
    (57, "carrot", "food", True),
    (58, "hot dog", "food", True),
    (59, "pizza", "food", True),
    (60, "donut", "food", True),
    (61, "cake", "food", True),
    (62, "chair", "furniture", True),
    (63, "couch", "furniture", True),
    (64, "potted plant", "furniture", True),
    (65, "bed", "furniture", True),
    (66, "mirror", "furniture", False),
    (67, "dining table", "furniture", True),
    (68, "window", "furniture", False),
    (69, "desk", "furniture", False),
    (70, "toilet", "furniture", True),
    (71, "door", "furniture", False),
    (72, "tv", "electronic", True),
    (73, "laptop", "electronic", True),
    (74, "mouse", "electronic", True),
    (75, "remote", "electronic", True),
    (76, "keyboard", "electronic", True),
    (77, "cell phone", "electronic", True),
    (78, "microwave", "appliance", True),
    (79, "oven", "appliance", True),
    (80, "toaster", "appliance", True),
    (81, "sink", "appliance", True),
    (82, "refrigerator", "appliance", True),
    (83, "blender", "appliance", False),
    (84, "book", "indoor", True),
    (85, "clock", "indoor", True),
    (86, "vase", "indoor", True),
    (87, "scissors", "indoor", True),
    (88, "teddy bear", "indoor", True),
    (89, "hair drier", "indoor", True),
    (90, "toothbrush", "indoor", True),
    (91, "hair brush", "indoor", False),
]

COCO_INDOOR_SCENES = [
    "library", "church", "office", "restaurant", "kitchen", "living room", "bathroom",
    "factory", "campus", "bedroom", "child's room", "dining room", "auditorium", "shop",
    "home", "hotel", "classroom", "cafeteria", "hospital room", "food court",
]  # fmt: skip
COCO_OUTDOOR_SCENES = [
    "street", "park", "beach", "river", "village", "valley", "market", "harbor", "yard",
    "parking lot", "lighthouse", "railway", "playground", "swimming pool", "forest",
    "gas station", "garden", "farm", "mountain", "plaza",
]  # fmt: skip

COCO_TEMPLATE_SLUG = "coco"


def seed_coco_template(taxonomy_model, category_model, scene_model):  # type: ignore[no-untyped-def]
    """Create or complete the COCO template. Takes the model classes so that a data
    migration can pass its historical models."""
    taxonomy, _ = taxonomy_model.objects.get_or_create(
        slug=COCO_TEMPLATE_SLUG,
        is_template=True,
        defaults={
            "name": "COCO (91 categories, 40 scenes)",
            "description": "Microsoft COCO: 91 object categories with official ids; 80 were "
            "annotated in the 2014 release. 40 SUN scene categories for image search.",
        },
    )
    for coco_id, name, supercategory, in_2014 in COCO_CATEGORIES:
        category_model.objects.update_or_create(
            taxonomy=taxonomy,
            coco_id=coco_id,
            defaults={"name": name, "supercategory": supercategory, "in_coco_2014": in_2014},
        )
    for scenes, indoor in ((COCO_INDOOR_SCENES, True), (COCO_OUTDOOR_SCENES, False)):
        for name in scenes:
            scene_model.objects.get_or_create(
                taxonomy=taxonomy, name=name, defaults={"indoor": indoor}
            )
    return taxonomy
