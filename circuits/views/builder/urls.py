"""Routes under /t/<tenant>/ for this group of pages."""

urlpatterns: list = []
