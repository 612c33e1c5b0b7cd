"""Clerk session tokens for DRF: ClerkJWTAuthentication and the ClerkUser it returns."""

from rest_framework import authentication
from rest_framework.request import Request


class ClerkUser:
    """A signed-in Clerk user; no Django User row is created."""

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def __init__(
        self,
        *,
        clerk_user_id: str,
        email: str = "",
        first_name: str = "",
        last_name: str = "",
    ) -> None:
        self.clerk_user_id = clerk_user_id
        self.email = email
        self.first_name = first_name
        self.last_name = last_name

    @property
    def pk(self) -> str:
        return self.clerk_user_id

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def __str__(self) -> str:
        return self.clerk_user_id


class ClerkJWTAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request):
        return None

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"
