from django.conf import settings
from django.db import models


class WorkerProfile(models.Model):
    """A person's role in the crowd. Admins are also Django staff (they use the admin)."""

    class Role(models.TextChoices):
        ANNOTATOR = "annotator", "Annotator"
        EXPERT = "expert", "Expert (authors gold and training answers)"
        ADMIN = "admin", "Admin"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.ANNOTATOR)
    blocked = models.BooleanField(default=False)
    blocked_reason = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.user.get_username()} ({self.role})"
