"""Admin pages of export; imported by annotation/admin.py."""
