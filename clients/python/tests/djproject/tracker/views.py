from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import JsonResponse
from django.views.decorators.http import require_POST

from herald.django import notify_project_team  # the seed's call, only this import changed

from .models import Milestone, Project


@login_required
@require_POST
def create_milestone(request, project_id):
    with transaction.atomic():
        project = Project.objects.get(id=project_id)
        milestone = Milestone.objects.create(project=project, title=request.POST["title"])

        # After creating milestone
        notify_project_team(
            project=project,
            event_type='milestone_created',
            actor_user=request.user,
            title='Milestone Created',
            message=f"Milestone '{milestone.title}' has been created",
            exclude_user=request.user
        )
        if request.POST.get("fail"):
            raise RuntimeError("rolled back on purpose, after the call")
    return JsonResponse({"id": milestone.id}, status=201)
