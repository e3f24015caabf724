from django.urls import path

from djproject.tracker import views

urlpatterns = [
    path("projects/<int:project_id>/milestones/", views.create_milestone),
]
