from rest_framework.permissions import BasePermission

from annotation.models import WorkerProfile
from annotation.services.people import profile_for


class IsAdminRole(BasePermission):
    message = "only admins may do this"

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        user = request.user
        if not user or not user.is_authenticated:
            return False
        return bool(user.is_superuser) or profile_for(user).role == WorkerProfile.Role.ADMIN
