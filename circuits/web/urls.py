from django.urls import include, path

from circuits.web.demo.views import InboxView
from circuits.web.views import circuit_list, home, members

tenant_urlpatterns = [
    path("", home.TenantHomeView.as_view(), name="tenant_home"),
    path("circuits/", circuit_list.CircuitListView.as_view(), name="circuit_list"),
    path("circuits/<slug:slug>/toggle", circuit_list.CircuitToggleView.as_view(), name="circuit_toggle"),
    path("settings/members/", members.MembersView.as_view(), name="members"),
    path("settings/members/<int:pk>/", members.MemberDetailView.as_view(), name="member_detail"),
    path("inbox/", InboxView.as_view(), name="demo_inbox"),
    path("", include("circuits.web.views.builder.urls")),
    path("", include("circuits.web.views.pages.urls")),
    path("", include("intelligence.views")),  # documents and search pages
    path("", include("intelligence.graph.views")),  # the knowledge graph pages
]
