"""Admin pages of the labeling stage(s); imported by annotation/admin.py."""
