"""The Django app of herald.django, for its management command herald_check."""

from django.apps import AppConfig


class HeraldConfig(AppConfig):
    name = "herald.django"
    label = "herald"
    verbose_name = "Herald notifications"
    default = True
