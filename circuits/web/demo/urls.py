from django.urls import path

from circuits.web.demo import views

urlpatterns = [
    path("site/", views.competitor_site, name="demo_site"),
    path("companies/<slug:slug>/", views.company_site, name="demo_company_site"),
    path("news.xml", views.news_feed, name="demo_news"),
    path("inbox/<slug:tenant_slug>/<slug:channel>", views.inbox_receive, name="demo_inbox_receive"),
]
