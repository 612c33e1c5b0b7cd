"""The tutorial's courses/authentication.py (section 5.1), as written."""

import logging

import jwt
import requests
from django.conf import settings
from django.core.cache import cache
from rest_framework import authentication, exceptions

logger = logging.getLogger(__name__)


class ClerkJWTAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        auth_header = request.headers.get("Authorization")
        if not auth_header:
            return None
        parts = auth_header.split()
        if len(parts) != 2 or parts[0].lower() != "bearer":
            raise exceptions.AuthenticationFailed(
                "Format du header Authorization invalide"
            )
        token = parts[1]
        try:
            payload = self.verify_jwt(token)
            user = ClerkUser(payload)
            return (user, None)
        except jwt.ExpiredSignatureError:
            raise exceptions.AuthenticationFailed("Token expiré")  # noqa: B904
        except jwt.InvalidTokenError as e:
            raise exceptions.AuthenticationFailed(f"Token invalide: {e!s}")  # noqa: B904
        except Exception as e:
            logger.error(f"Erreur d'authentification: {e!s}")
            raise exceptions.AuthenticationFailed("Erreur d'authentification")  # noqa: B904

    def verify_jwt(self, token):
        jwks = self.get_jwks()
        unverified_header = jwt.get_unverified_header(token)
        kid = unverified_header.get("kid")
        if not kid:
            raise jwt.InvalidTokenError("Token sans kid")
        signing_key = None
        for key in jwks.get("keys", []):
            if key.get("kid") == kid:
                signing_key = jwt.algorithms.RSAAlgorithm.from_jwk(key)
                break
        if not signing_key:
            raise jwt.InvalidTokenError("Clé de signature introuvable")
        payload = jwt.decode(
            token,
            signing_key,
            algorithms=["RS256"],
            options={
                "verify_signature": True,
                "verify_exp": True,
                "verify_iat": True,
            },
        )
        return payload

    def get_jwks(self):
        cache_key = "clerk_jwks"
        jwks = cache.get(cache_key)
        if jwks is None:
            jwks_url = settings.CLERK_JWKS_URL
            response = requests.get(jwks_url, timeout=10)
            response.raise_for_status()
            jwks = response.json()
            cache.set(cache_key, jwks, 3600)
        return jwks


class ClerkUser:
    def __init__(self, payload):
        self.payload = payload
        self.clerk_user_id = payload.get("sub")
        self.email = payload.get("email", "")
        self.first_name = payload.get("given_name", "")
        self.last_name = payload.get("family_name", "")
        self.is_authenticated = True
        self.is_active = True

    @property
    def is_anonymous(self):
        return False

    @property
    def full_name(self):
        return f"{self.first_name} {self.last_name}".strip()

    def __str__(self):
        return self.email or self.clerk_user_id
