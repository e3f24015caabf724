from django.db import models


class Project(models.Model):
    title = models.CharField(max_length=200)


class Milestone(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    title = models.CharField(max_length=200)
