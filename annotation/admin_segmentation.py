"""Admin pages of the segmentation stage; imported by annotation/admin.py."""
