"""Admin pages of the collection stage(s); imported by annotation/admin.py."""
