"""manage.py herald_check: settings, reachability, credentials and a round trip to the hub."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from herald.django import conf, make_client
from herald.errors import HeraldError, Unavailable
from herald.retry import RetryPolicy
from herald.transport import TryAgain


class Command(BaseCommand):
    help = ("Checks settings.HERALD: the hub's URL answers, it accepts the credentials, and an "
            "event sent to a user nobody is (HERALD['CHECK_USER']) is taken by the hub.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            settings = conf()
            client = make_client(settings)
        except HeraldError as e:
            raise CommandError(f"settings: {e}") from None
        client.retry = RetryPolicy(total=0)  # a check reports the first failure as it is
        target = client.transport.target
        self.ok(f"settings: {settings.TRANSPORT} transport to {target}")
        try:
            self.reach(settings, client, target)
            receipt = client.notify_user(settings.CHECK_USER, "herald_check",
                                         title="Herald check", message="herald_check round trip")
            self.ok(f"credentials: accepted by {target}")
            if settings.TRANSPORT == "webhook":
                self.ok(f"round trip: the hub took event {receipt.ids[0]} (202)")
            else:
                groups = client.transport.wait_taken(receipt.entries[0], settings.CHECK_TIMEOUT)
                self.ok(f"round trip: event {receipt.ids[0]} (entry {receipt.entries[0]}) taken "
                        f"by Herald's consumer group{'s' if len(groups) > 1 else ''} "
                        f"{', '.join(groups)}")
        except HeraldError as e:
            raise CommandError(str(e)) from None
        finally:
            client.close()

    def reach(self, settings: Any, client: Any, target: str) -> None:
        if settings.TRANSPORT == "stream":
            client.transport.ping()
            self.ok(f"reachable: {target} answers PING")
            return
        try:
            status, body = client.transport.health(settings.TIMEOUT)
        except TryAgain as e:
            raise Unavailable(f"{target}: cannot reach the webhook: {e.reason}") from None
        if status != 200:
            raise CommandError(f"{target}: GET /healthz answered {status} {body.strip()}: is "
                               f"this Herald's webhook (its listen address and port)?")
        self.ok(f"reachable: GET /healthz on the webhook's port answered 200")

    def ok(self, line: str) -> None:
        self.stdout.write(f"ok  {line}")
