"""Admin pages of verification; imported by annotation/admin.py."""
